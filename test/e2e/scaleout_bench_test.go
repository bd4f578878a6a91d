//go:build scaleoutbench

package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// oneCollectorConfig is the two tiers' work in one process: the edge's
// processors, then the processing tier's store and anomaly baselines, no
// Kafka between them.
const oneCollectorConfig = `
extensions:
  tenantpolicy:
    path: {{POLICY}}
  health_check:
    endpoint: {{HEALTH}}
  file_storage:
    directory: {{DIR}}/state
    create_directory: true
receivers:
  otlp:
    protocols:
      http:
        endpoint: {{HTTP}}
        auth: {authenticator: tenantpolicy}
processors:
  memory_limiter: {check_interval: 1s, limit_percentage: 80, spike_limit_percentage: 20}
  tenant:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
  tenantretention: {}
  tenantredact: {}
connectors:
  tenantanomaly:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
    storage: file_storage
exporters:
  tenantrouter:
    storage: file_storage
    backends:
      local:
        type: localstore
        directory: {{DATA}}
        master_key_env: TENANCY_MASTER_KEY
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check, file_storage]
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter, tenant, tenantretention, tenantredact]
      exporters: [tenantrouter, tenantanomaly]
    logs/governance: {receivers: [tenantanomaly], exporters: [tenantrouter]}
`

// benchLoad sends requests of 100 log records each for every tenant
// through edges (round robin), and returns the records sent.
func benchLoad(t *testing.T, edges []*collector, ids []string, keys map[string]string, requests int) int {
	sent := 0
	for r := range requests {
		for n, id := range ids {
			p := scaleoutPayload(fmt.Sprintf("%s-%d", id, r), "")
			lrs := p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
			now := pcommon.NewTimestampFromTime(time.Now())
			for i := 1; i < 100; i++ {
				lr := lrs.AppendEmpty()
				lr.SetTimestamp(now)
				lr.Body().SetStr(fmt.Sprintf("order %d placed by customer %d", i, r))
			}
			require.Equal(t, 200, edges[(n+r)%len(edges)].postHTTP(t, "logs", p, map[string]string{"X-API-Key": keys[id]}))
			sent += 100
		}
	}
	return sent
}

// TestBenchScaleOut (make bench-scaleout; the scaleoutbench build tag
// keeps this measurement out of make test) sends the same logs through one collector and
// through edge -> Kafka -> processing, and reports the CPU-seconds each
// spent per 10,000 records once every record is stored: the hop's cost as
// a ratio.
func TestBenchScaleOut(t *testing.T) {
	const tenants, requests = 4, 100
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)

	// One collector.
	ids, keys, policyYAML := scaleoutTenants(tenants)
	one := startCollectorWith(t, policyYAML, oneCollectorConfig)
	cpu0 := peertest.CPUSeconds(t, one.cmd.Process.Pid)
	start := time.Now()
	records := benchLoad(t, []*collector{one}, ids, keys, requests)
	waitFor(t, "one collector stored everything", 5*time.Minute, func() bool {
		n := 0
		for _, m := range storedIn(t, one.dataDir) {
			for _, c := range m {
				n += c
			}
		}
		return n >= records
	})
	oneCPU, oneWall := peertest.CPUSeconds(t, one.cmd.Process.Pid)-cpu0, time.Since(start)
	one.stop()

	// Two tiers, one collector of each, and the broker.
	broker := peertest.FreeAddr(t)
	kafka := peertest.StartKafkaAt(t, broker)
	so := startScaleOut(t, broker, tenants, 1, 1)
	pids := []int{so.edges[0].cmd.Process.Pid, so.procs[0].cmd.Process.Pid, kafka.Pid()}
	before := make([]float64, len(pids))
	for i, p := range pids {
		before[i] = peertest.CPUSeconds(t, p)
	}
	start = time.Now()
	benchLoad(t, so.edges, so.ids, so.keys, requests)
	waitFor(t, "the processing tier stored everything", 5*time.Minute, func() bool {
		n := 0
		for _, m := range so.stored(t) {
			for _, c := range m {
				n += c
			}
		}
		return n >= records
	})
	wall := time.Since(start)
	spent := make([]float64, len(pids))
	for i, p := range pids {
		spent[i] = peertest.CPUSeconds(t, p) - before[i]
	}
	per := func(cpu float64) float64 { return cpu / float64(records) * 10_000 }
	t.Logf("%d records (%d tenants x %d requests x 100 log records), CPU-seconds per 10,000 records:", records, tenants, requests)
	t.Logf("  one collector:        %.3f (wall %s)", per(oneCPU), oneWall.Round(time.Millisecond))
	t.Logf("  edge:                 %.3f", per(spent[0]))
	t.Logf("  processing:           %.3f", per(spent[1]))
	t.Logf("  kfake broker:         %.3f", per(spent[2]))
	t.Logf("  edge + processing:    %.3f (wall %s): %.2fx one collector", per(spent[0]+spent[1]), wall.Round(time.Millisecond), (spent[0]+spent[1])/oneCPU)
	t.Logf("  with the broker:      %.3f: %.2fx one collector", per(spent[0]+spent[1]+spent[2]), (spent[0]+spent[1]+spent[2])/oneCPU)
}
