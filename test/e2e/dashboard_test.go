package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
			Value  []any             `json:"value"`
			Values [][]any           `json:"values"`
		} `json:"result"`
	} `json:"data"`
}

func promQuery(t *testing.T, promAddr, expr string) promResponse {
	t.Helper()
	return promGet(t, "http://"+promAddr+"/api/v1/query?query="+url.QueryEscape(expr))
}

// promRange asks for expr from start to end, one point a second.
func promRange(t *testing.T, promAddr, expr string, start, end time.Time) promResponse {
	t.Helper()
	return promGet(t, "http://"+promAddr+"/api/v1/query_range?query="+url.QueryEscape(expr)+
		"&start="+strconv.FormatInt(start.Unix(), 10)+"&end="+strconv.FormatInt(end.Unix(), 10)+"&step=1")
}

func promGet(t *testing.T, u string) promResponse {
	t.Helper()
	var r promResponse
	body := peerGet(t, u, nil)
	require.NoError(t, json.Unmarshal([]byte(body), &r), body)
	return r
}

// dashboardConfig is the whole pipeline behind the gateway with backends
// that make every panel move: local (the store), refusing (answers 400:
// permanent failures), slow (answers 503: retries and a queue that
// holds batches) and rw (remote write that takes what it can translate).
// initech's residency is another region than the collector's, so the
// retention processor drops its records.
const dashboardConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  tenantgateway:
    endpoint: "{{HTTP}}"
    auth: {authenticator: tenantpolicy}
    grpc: {endpoint: "{{GRPC}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  tenantredact: {}
  tenantretention: {expired: flag, region: us-east, out_of_region: drop}
connectors:
  tenantanomaly: {interval: 1s, fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
exporters:
  tenantrouter:
    backends:
      local: {type: localstore, directory: "{{DIR}}/store"}
      refusing: {type: otlphttp, endpoint: "{{REFUSING}}"}
      slow:
        type: otlphttp
        endpoint: "{{SLOW}}"
        retry: {enabled: true, initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 60s}
      rw: {type: remotewrite, endpoint: "{{RW}}/api/v1/write"}
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus: {host: "127.0.0.1", port: {{METRICS_PORT}}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [tenantgateway], processors: [tenant, tenantredact, tenantretention], exporters: [tenantrouter, tenantanomaly]}
    metrics: {receivers: [tenantgateway], processors: [tenant, tenantredact, tenantretention], exporters: [tenantrouter, tenantanomaly]}
    traces: {receivers: [tenantgateway], processors: [tenant, tenantredact, tenantretention], exporters: [tenantrouter, tenantanomaly]}
    logs/governance: {receivers: [tenantanomaly], exporters: [tenantrouter]}
`

var dashboardTenants = []string{"acme", "globex", "initech"}

// startDashboardCollector runs dashboardConfig on config/tenants.yaml
// (acme in tier gold, globex and initech in the defaults' tier standard)
// with acme routed to every backend and initech resident in eu-west.
func startDashboardCollector(t *testing.T) (*collector, string) {
	t.Helper()
	serve := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(s.Close)
		return s.URL
	}
	policyYAML := strings.NewReplacer(
		"  acme:\n", "  acme:\n    backends: {logs: [local, refusing, slow], metrics: [local, rw], traces: [local]}\n",
		"  initech:\n", "  initech:\n    residency: eu-west\n",
	).Replace(readRepoFile(t, "config/tenants.yaml"))
	cfg := strings.NewReplacer("{{REFUSING}}", serve(http.StatusBadRequest),
		"{{SLOW}}", serve(http.StatusServiceUnavailable), "{{RW}}", serve(http.StatusNoContent)).Replace(dashboardConfig)
	return startWithMetrics(t, policyYAML, cfg)
}

// dashboardLoad is one round of the three tenants' traffic, each signal,
// plus what the failure panels count: a spoof sent with acme's key, a
// request of acme's the gateway cannot decode, a request with an unknown
// key, and a metric with no points that remote write cannot translate.
func dashboardLoad(t *testing.T, c *collector) {
	t.Helper()
	for _, tenant := range dashboardTenants {
		p := newPayload("m-dashboard "+tenant+" order for ops@globex.example", "")
		if tenant == "acme" {
			m := p.metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
			m.SetName("e2e_empty")
			m.SetEmptyGauge()
		}
		for _, signal := range []string{"logs", "metrics", "traces"} {
			require.Equal(t, http.StatusOK, c.postHTTP(t, signal, p, map[string]string{"X-API-Key": demoKeys[tenant]}), "%s %s", tenant, signal)
		}
	}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("m-dashboard spoof", "globex"), map[string]string{"X-API-Key": demoKeys["acme"]}))
	req, err := http.NewRequest(http.MethodPost, "http://"+c.httpAddr+"/v1/logs", strings.NewReader("not protobuf"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", demoKeys["acme"])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Equal(t, http.StatusUnauthorized, c.postHTTP(t, "logs", newPayload("m-dashboard stranger", ""), map[string]string{"X-API-Key": "not-a-key-of-anyone-0001"}))
}

// dashboardQuery is one target of a panel, Grafana's variables expanded.
type dashboardQuery struct {
	panel, expr, tenant string
	fleetRow            bool
}

// queries lists every target of d; a per-tenant dashboard's once per
// tenant.
func queries(d dashboards.Dashboard, tenants []string) []dashboardQuery {
	var out []dashboardQuery
	fleet := false
	for _, p := range d.Panels {
		if p.IsRow() {
			fleet = p.IsFleetRow()
			continue
		}
		for _, tg := range p.Targets {
			for _, tn := range tenants {
				out = append(out, dashboardQuery{panel: p.Title, expr: dashboards.Expand(tg.Expr, tn), tenant: tn, fleetRow: fleet})
			}
		}
	}
	return out
}

// Both dashboards against a real Prometheus scraping a real collector
// after a load of three tenants in two tiers: every query runs (Grafana's
// variables expanded as Grafana does) and returns data, for the
// per-tenant dashboard with at least one of the tenants picked; a
// tenant-scoped query never returns another tenant's series; the tenant
// picker lists the three. Each dashboard is drawn, panel by panel, from
// Prometheus' answers into a PNG (written to $TENANCY_DASHBOARD_PICTURES
// when set: make dashboard-pictures).
func TestEndToEndDashboardsOnPrometheus(t *testing.T) {
	start := time.Now()
	c, metricsAddr := startDashboardCollector(t)

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

	// Rounds with scrapes between them, so rate() has a rise to see.
	waitFor(t, "Prometheus to scrape the collector", 30*time.Second, func() bool {
		return len(promQuery(t, promAddr, `up{job="tenancy"} == 1`).Data.Result) > 0
	})
	dashboardLoad(t, c)
	waitFor(t, "Prometheus to have the first load", 30*time.Second, func() bool {
		return len(promQuery(t, promAddr, `otelcol_tenant_records_accepted{tenant="initech",signal="traces"}`).Data.Result) > 0
	})
	dashboardLoad(t, c)

	tenant, err := dashboards.Load("tenant.json")
	require.NoError(t, err)
	fleet, err := dashboards.Load("fleet.json")
	require.NoError(t, err)
	all := append(queries(tenant, dashboardTenants), queries(fleet, []string{""})...)

	// A round a second until every query has data and the pictures have
	// 20 s of steady load to show, or the deadline: then report the
	// queries without data.
	var empty map[string]bool
	loadStart := time.Now()
	deadline := loadStart.Add(60 * time.Second)
	for {
		dashboardLoad(t, c)
		empty = map[string]bool{}
		shown := map[string]bool{}
		for _, q := range all {
			r := promQuery(t, promAddr, q.expr)
			require.Equal(t, "success", r.Status, "%s: %s: %s %s", q.panel, q.expr, r.ErrorType, r.Error)
			key := q.panel + ": " + dashboards.Expand(q.expr, "$tenant")
			if q.tenant != "" {
				key = q.panel + ": " + strings.ReplaceAll(q.expr, `"`+q.tenant+`"`, `"$tenant"`)
			}
			if len(r.Data.Result) > 0 {
				shown[key] = true
			} else if !shown[key] {
				empty[key] = true
			}
			for _, s := range r.Data.Result {
				if tn, ok := s.Metric["tenant"]; ok && q.tenant != "" && !q.fleetRow {
					assert.Equal(t, q.tenant, tn, "%s shows another tenant's series", q.panel)
				}
			}
		}
		for k := range shown {
			delete(empty, k)
		}
		if (len(empty) == 0 && time.Since(loadStart) > 20*time.Second) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for k := range empty {
		t.Errorf("no data for any tenant: %s", k)
	}

	// The tenant picker: label_values(METRIC, tenant) is Grafana's call of
	// /api/v1/label/tenant/values?match[]=METRIC.
	for _, v := range tenant.Templating.List {
		if v.Name != "tenant" {
			continue
		}
		metric := strings.TrimSuffix(strings.TrimPrefix(v.Definition, "label_values("), ", tenant)")
		body := peerGet(t, "http://"+promAddr+"/api/v1/label/tenant/values?match[]="+url.QueryEscape(metric), nil)
		for _, tn := range dashboardTenants {
			assert.Contains(t, body, `"`+tn+`"`)
		}
	}

	// The two tiers and their tenants, as the fleet dashboard counts them.
	tiers := map[string]string{}
	for _, s := range promQuery(t, promAddr, `count by (tier) (`+dashboards.TenantInfo+`)`).Data.Result {
		tiers[s.Metric["tier"]] = fmt.Sprint(s.Value[1])
	}
	assert.Equal(t, map[string]string{"gold": "1", "standard": "2"}, tiers)

	out := t.TempDir()
	if d := os.Getenv("TENANCY_DASHBOARD_PICTURES"); d != "" {
		out = d
	}
	end := time.Now()
	for name, d := range map[string]dashboards.Dashboard{"tenant": tenant, "fleet": fleet} {
		path := filepath.Join(out, "dashboard-"+name+".png")
		require.NoError(t, drawDashboard(t, promAddr, d, "acme", start, end, path))
		info, err := os.Stat(path)
		require.NoError(t, err)
		assert.Greater(t, info.Size(), int64(10_000), "%s is too small to show the panels", path)
	}
}
