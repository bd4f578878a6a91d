package e2e

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// anomalyConfig runs the tenantanomaly connector on 2s intervals with a
// short probation, keeping baselines in file_storage under the test's dir;
// its records reach the file exporter through their own logs pipeline.
// {{CHECKPOINT}} is filled in per test.
const anomalyConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
  file_storage: {directory: "{{DIR}}/state", create_directory: true}
receivers:
  otlp:
    protocols:
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
connectors:
  tenantanomaly:
    fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"
    interval: 2s
    probation: 8
    storage: file_storage
    checkpoint_interval: {{CHECKPOINT}}
exporters:
  tenantfile: {directory: "{{DATA}}"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check, file_storage]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantfile, tenantanomaly]}
    logs/governance: {receivers: [tenantanomaly], exporters: [tenantfile]}
`

// sendVolume sends n log records of one tenant, authenticated with its demo
// key, in one request.
func (c *collector) sendVolume(t *testing.T, tenant string, n int) {
	t.Helper()
	p := newPayload("m-anomaly", "")
	lrs := p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 1; i < n; i++ {
		lrs.At(0).CopyTo(lrs.AppendEmpty())
	}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, map[string]string{"X-API-Key": demoKeys[tenant]}))
}

// anomalyInterval is the connector's interval in anomalyConfig.
const anomalyInterval = 2 * time.Second

// feedIntervals sends, in each of k intervals, the volumes that volumes(i)
// gives per tenant. Requests go in the middle of the interval (the
// connector's intervals are aligned to the wall clock), so a late timer on
// either side, on a loaded machine, still leaves a steady tenant's counts
// exactly steady.
func (c *collector) feedIntervals(t *testing.T, k int, volumes func(i int) map[string]int) {
	t.Helper()
	for i := range k {
		now := time.Now()
		time.Sleep(now.Truncate(anomalyInterval).Add(anomalyInterval + anomalyInterval/2).Sub(now))
		v := volumes(i)
		tenants := make([]string, 0, len(v))
		for tn := range v {
			tenants = append(tenants, tn)
		}
		sort.Strings(tenants)
		for _, tn := range tenants {
			c.sendVolume(t, tn, v[tn])
		}
	}
}

func steady(tenants ...string) func(int) map[string]int {
	return func(int) map[string]int {
		v := map[string]int{}
		for _, tn := range tenants {
			v[tn] = 20
		}
		return v
	}
}

// anomalyRecords returns the _governance log records.
func (c *collector) anomalyRecords(t *testing.T) []plog.LogRecord {
	t.Helper()
	var out []plog.LogRecord
	var u plog.JSONUnmarshaler
	for _, line := range c.lines(t, "_governance", "logs") {
		ld, err := u.UnmarshalLogs([]byte(line))
		require.NoError(t, err)
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

// anomalies returns anomaly.tenant.id of every _governance record.
func (c *collector) anomalies(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, lr := range c.anomalyRecords(t) {
		v, _ := lr.Attributes().Get("anomaly.tenant.id")
		out = append(out, v.AsString())
	}
	return out
}

func TestEndToEndAnomalySpike(t *testing.T) {
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(anomalyConfig, "{{CHECKPOINT}}", "0s"))
	c.feedIntervals(t, 11, steady("acme", "globex", "initech"))
	require.Empty(t, c.anomalies(t), "a steady baseline is not an anomaly")

	c.feedIntervals(t, 3, func(i int) map[string]int {
		v := steady("acme", "globex", "initech")(i)
		if i == 0 {
			v["acme"] = 400
		}
		return v
	})
	waitFor(t, "acme's anomaly record in _governance/logs.jsonl", 4*anomalyInterval, func() bool {
		return len(c.anomalies(t)) > 0
	})
	for _, tn := range c.anomalies(t) {
		assert.Equal(t, "acme", tn, "only acme spiked")
	}
	gov := strings.Join(c.lines(t, "_governance", "logs"), "\n")
	assert.True(t, containsAll(gov, `"anomaly.feature"`, `"anomaly.score"`, `"anomaly.tenant.fingerprint"`, `"anomaly.interval_start"`, `"severityText":"WARN"`), gov)
	assert.NotContains(t, strings.Join(c.lines(t, "acme", "logs"), "\n"), "anomaly.tenant.id", "anomaly records stay in _governance")
}

// The baseline learnt before a restart is restored from file_storage: a
// spike two intervals after the restart is flagged, which a fresh detector
// (probation 8) could not do. checkpoint_interval is long, so only the
// save at shutdown can have kept it.
func TestEndToEndAnomalyBaselineSurvivesRestart(t *testing.T) {
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(anomalyConfig, "{{CHECKPOINT}}", "1h"))
	c.feedIntervals(t, 14, steady("acme", "initech"))
	require.Empty(t, c.anomalies(t))

	c.stop()
	c.start(t)
	// 2 tenants x 6 log features.
	waitFor(t, "the restored baselines in the collector's log", 5*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), `"tenants": 2, "series": 12`)
	})

	c.feedIntervals(t, 4, func(i int) map[string]int {
		v := steady("acme", "initech")(i)
		if i == 2 {
			v["acme"] = 400
		}
		return v
	})
	waitFor(t, "acme's anomaly record after the restart", 4*anomalyInterval, func() bool {
		return len(c.anomalies(t)) > 0
	})
	for _, tn := range c.anomalies(t) {
		assert.Equal(t, "acme", tn)
	}
}
