package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/dashboards"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	} `json:"data"`
}

func promQuery(t *testing.T, promAddr, expr string) promResponse {
	t.Helper()
	var r promResponse
	body := peerGet(t, "http://"+promAddr+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return r
}

// The per-tenant dashboard against a real Prometheus scraping a real
// collector: every panel's query runs (Grafana's variables expanded as
// Grafana does), the panels this pipeline feeds show acme's
// data, the tenant picker lists the tenants, and no series of a
// tenant-scoped query names another tenant.
func TestEndToEndTenantDashboardOnPrometheus(t *testing.T) {
	c, metricsAddr := startSelfMetricsCollector(t)

	dir := t.TempDir()
	promAddr := peertest.FreeAddr(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(promCfg, []byte(`global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: tenancy
    static_configs: [{targets: ["`+metricsAddr+`"]}]
`), 0o600))
	peertest.Start(t, time.Minute, "http://"+promAddr+"/-/ready", peertest.Binary(t, "TENANCY_PROMETHEUS", "prometheus"), "--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prom"), "--web.listen-address="+promAddr)

	// Two rounds with a scrape between them, so rate() has a rise to see.
	waitFor(t, "Prometheus to scrape the collector", 30*time.Second, func() bool {
		return len(promQuery(t, promAddr, `up{job="tenancy"} == 1`).Data.Result) > 0
	})
	sendEverySignal(t, c)
	waitFor(t, "Prometheus to have acme's first traces", 30*time.Second, func() bool {
		return len(promQuery(t, promAddr, `otelcol_tenant_records_accepted{tenant="acme",signal="traces"}`).Data.Result) > 0
	})
	sendEverySignal(t, c)
	waitFor(t, "Prometheus to see acme's traces rise and anomaly scores", 30*time.Second, func() bool {
		return len(promQuery(t, promAddr, `rate(otelcol_tenant_records_accepted{tenant="acme",signal="traces"}[1m]) > 0`).Data.Result) > 0 &&
			len(promQuery(t, promAddr, `otelcol_tenantanomaly_score{tenant="acme"}`).Data.Result) > 0
	})

	d, err := dashboards.Load("tenant.json")
	require.NoError(t, err)

	// The tenant picker: label_values(METRIC, tenant) is Grafana's call of
	// /api/v1/label/tenant/values?match[]=METRIC.
	for _, v := range d.Templating.List {
		if v.Name != "tenant" {
			continue
		}
		metric := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ", tenant)")
		body := peerGet(t, "http://"+promAddr+"/api/v1/label/tenant/values?match[]="+url.QueryEscape(metric), nil)
		assert.Contains(t, body, `"acme"`)
		assert.Contains(t, body, `"globex"`)
	}

	// Panels this pipeline feeds (no refusal at the gateway, no failing
	// backend, no quarantine): they must show acme's data.
	fed := map[string]bool{
		"Records accepted": true, "Authenticated requests": true, "Gateway records": true, "Redactions by class": true,
		"Records changed by redaction": true, "Records outside retention or residency": true, "Records delivered": true, "Queue depth": true,
		"Anomaly score by feature": true,
	}
	shown := map[string]bool{}
	fleet := false
	for _, p := range d.Panels {
		if p.IsRow() {
			fleet = p.IsFleetRow()
			continue
		}
		for _, tg := range p.Targets {
			expr := dashboards.Expand(tg.Expr, "acme")
			r := promQuery(t, promAddr, expr)
			require.Equal(t, "success", r.Status, "%s: %s: %s %s", p.Title, expr, r.ErrorType, r.Error)
			if len(r.Data.Result) > 0 {
				shown[p.Title] = true
			}
			for _, s := range r.Data.Result {
				if tn, ok := s.Metric["tenant"]; ok && !fleet {
					assert.Equal(t, "acme", tn, "%s shows another tenant's series", p.Title)
				}
			}
		}
	}
	for title := range fed {
		assert.True(t, shown[title], "panel %q shows no data for acme", title)
	}
}
