package e2e

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

func peerGet(t *testing.T, u string, headers map[string]string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// routerPeersConfig: the router between the tenant processor and real
// backends: logs to VictoriaLogs (Loki push, numeric AccountIDs through
// tenant_ids) and the local store, metrics to Cortex (multi-tenant remote
// write) and Prometheus (a plain sink).
const routerPeersConfig = `
extensions:
  tenantpolicy:
    path: {{POLICY}}
  health_check:
    endpoint: {{HEALTH}}
receivers:
  otlp:
    protocols:
      http:
        endpoint: {{HTTP}}
        auth: {authenticator: tenantpolicy}
processors:
  tenant:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
exporters:
  tenantrouter:
    retry_on_failure: {enabled: true, initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 1m}
    backends:
      local: {type: localstore, directory: "{{DIR}}/store"}
      vl:
        type: loki
        endpoint: "http://{{VL}}/insert/loki/api/v1/push"
        tenant_header: AccountID
        tenant_ids: {acme: "1", globex: "2"}
      cortex: {type: remotewrite, endpoint: "http://{{CORTEX}}/api/v1/push"}
      prom: {type: remotewrite, endpoint: "http://{{PROM}}/api/v1/write"}
    default_backends: {logs: [vl, local], metrics: [cortex, prom], traces: [local]}
service:
  telemetry:
    metrics:
      level: none
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
    metrics: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
`

// TestEndToEndRouterRealPeers: acme, globex and initech send logs and
// metrics with their API keys through the collector. In Cortex each
// tenant's query sees its own series only; in VictoriaLogs acme's logs are
// under AccountID 1 and globex's under 2, and initech, absent from
// tenant_ids, is in neither (its logs are in the local store); Prometheus
// takes every tenant's series as a plain sink.
func TestEndToEndRouterRealPeers(t *testing.T) {
	dir := t.TempDir()
	vlAddr := peertest.FreeAddr(t)
	peertest.Start(t, time.Minute, "http://"+vlAddr+"/health", peertest.Binary(t, "TENANCY_VICTORIALOGS", "victoria-logs"),
		"-httpListenAddr="+vlAddr, "-storageDataPath="+filepath.Join(dir, "vl"))

	cortexAddr := peertest.StartCortex(t)

	promAddr := peertest.FreeAddr(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte("global: {}\n"), 0o600))
	peertest.Start(t, time.Minute, "http://"+promAddr+"/-/ready", peertest.Binary(t, "TENANCY_PROMETHEUS", "prometheus"), "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prom"), "--web.listen-address="+promAddr, "--web.enable-remote-write-receiver")

	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.NewReplacer("{{VL}}", vlAddr,
		"{{CORTEX}}", cortexAddr, "{{PROM}}", promAddr).Replace(routerPeersConfig))

	tenants := []string{"acme", "globex", "initech"}
	now := pcommon.NewTimestampFromTime(time.Now())
	for _, tn := range tenants {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", "shop")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(now)
		lr.Body().SetStr("peer-log-" + tn)
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "shop")
		g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		g.SetName("e2e_peer_orders")
		dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(now)
		dp.SetIntValue(7)
		dp.Attributes().PutStr("marker", "peer-metric-"+tn)
		p := payload{logs: ld, metrics: md}
		hdr := map[string]string{"X-API-Key": demoKeys[tn]}
		require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, hdr), tn)
		require.Equal(t, http.StatusOK, c.postHTTP(t, "metrics", p, hdr), tn)
	}

	// Cortex: each tenant sees its own series only.
	cortexQuery := func(org string) string {
		return peerGet(t, "http://"+cortexAddr+"/prometheus/api/v1/query?query="+url.QueryEscape("e2e_peer_orders"), map[string]string{"X-Scope-OrgID": org})
	}
	for _, tn := range tenants {
		var body string
		waitFor(t, tn+"'s series in Cortex", 30*time.Second, func() bool {
			body = cortexQuery(tn)
			return strings.Contains(body, "peer-metric-"+tn)
		})
		for _, other := range tenants {
			if other != tn {
				assert.NotContains(t, body, "peer-metric-"+other, "%s's series visible to %s in Cortex", other, tn)
			}
		}
	}
	assert.Contains(t, cortexQuery("nobody"), `"result":[]`)

	// VictoriaLogs: acme under AccountID 1, globex under 2, initech nowhere.
	vlQuery := func(account string) string {
		return peerGet(t, "http://"+vlAddr+"/select/logsql/query?query=*", map[string]string{"AccountID": account})
	}
	for account, tn := range map[string]string{"1": "acme", "2": "globex"} {
		var body string
		waitFor(t, tn+"'s logs in VictoriaLogs", 30*time.Second, func() bool {
			body = vlQuery(account)
			return strings.Contains(body, "peer-log-"+tn)
		})
		for _, other := range tenants {
			if other != tn {
				assert.NotContains(t, body, "peer-log-"+other, "AccountID %s (%s) holds %s's logs", account, tn, other)
			}
		}
	}
	for _, account := range []string{"0", "3"} {
		assert.NotContains(t, vlQuery(account), "peer-log-", "AccountID %s", account)
	}

	// Prometheus, the plain sink, has all three.
	waitFor(t, "every tenant's series in Prometheus", 30*time.Second, func() bool {
		return containsAll(peerGet(t, "http://"+promAddr+"/api/v1/query?query="+url.QueryEscape("e2e_peer_orders"), nil),
			"peer-metric-acme", "peer-metric-globex", "peer-metric-initech")
	})

	// initech's logs, kept from VictoriaLogs, are in its own store database.
	c.stop()
	code, out := ctl(t, "query", "--data", filepath.Join(c.dir, "store"), "--tenant", "initech", "--format", "csv", "SELECT body FROM logs")
	require.Equal(t, 0, code, out)
	assert.Equal(t, "body\npeer-log-initech\n", out)
	t.Logf("Cortex as acme: %s", cortexQuery("acme"))
}
