package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// selfMetricsConfig is the whole pipeline, every signal, behind the
// tenantgateway, with the collector's own metrics served for Prometheus on
// {{METRICS_PORT}}.
const selfMetricsConfig = `
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
  # newPayload's log records are stamped 1970: flagged, not dropped, so
  # every other component still sees them.
  tenantretention: {expired: flag}
  tenantredact: {}
connectors:
  tenantanomaly: {interval: 1s, fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
exporters:
  tenantrouter:
    backends:
      local: {type: localstore, directory: "{{DIR}}/store"}
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus: {host: "127.0.0.1", port: {{METRICS_PORT}}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter, tenantanomaly]}
    metrics: {receivers: [tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter, tenantanomaly]}
    traces: {receivers: [tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter, tenantanomaly]}
    logs/governance: {receivers: [tenantanomaly], exporters: [tenantrouter]}
`

// startSelfMetricsCollector runs selfMetricsConfig and returns the
// collector and its metrics address.
func startSelfMetricsCollector(t *testing.T) (*collector, string) {
	t.Helper()
	policyYAML := strings.Replace(readRepoFile(t, "config/tenants.yaml"),
		"  acme:\n", "  acme:\n    redaction: {classes: {email: mask}}\n", 1)
	return startWithMetrics(t, policyYAML, selfMetricsConfig)
}

// startWithMetrics runs configTemplate on policyYAML with the router's
// master key and a free port for {{METRICS_PORT}}; it returns the
// collector and its metrics address.
func startWithMetrics(t *testing.T, policyYAML, configTemplate string) (*collector, string) {
	t.Helper()
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // inherited by the collector
	metricsAddr := peertest.FreeAddr(t)
	port := metricsAddr[strings.LastIndexByte(metricsAddr, ':')+1:]
	return startCollectorWith(t, policyYAML, strings.ReplaceAll(configTemplate, "{{METRICS_PORT}}", port)), metricsAddr
}

// sendEverySignal sends one request per signal for acme and globex;
// acme's names a globex identifier and an e-mail address, so acme's
// records are redacted in every signal.
func sendEverySignal(t *testing.T, c *collector) {
	t.Helper()
	for _, tenant := range []string{"acme", "globex"} {
		p := newPayload("m-selfmetrics "+tenant+" order for ops@globex.example", "")
		for _, signal := range []string{"logs", "metrics", "traces"} {
			require.Equal(t, http.StatusOK, c.postHTTP(t, signal, p, map[string]string{"X-API-Key": demoKeys[tenant]}), "%s %s", tenant, signal)
		}
	}
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// hasSeries reports whether the exposition holds a sample of metric whose
// labels include every label given as name="value".
func hasSeries(exposition, metric string, labels ...string) bool {
	for _, line := range strings.Split(exposition, "\n") {
		if !strings.HasPrefix(line, metric+"{") {
			continue
		}
		set := line[len(metric)+1 : strings.LastIndexByte(line, '}')]
		ok := true
		for _, l := range labels {
			if !strings.Contains(","+set+",", ","+l+",") {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// An SRE reads each tenant's traffic from the collector's own metrics: the
// per-tenant series of every component must be there for every signal,
// although each signal's pipeline holds its own instance of a processor.
func TestEndToEndSelfMetricsPerTenantEverySignal(t *testing.T) {
	c, metricsAddr := startSelfMetricsCollector(t)
	sendEverySignal(t, c)

	type series struct {
		metric string
		labels []string
	}
	var want []series
	for _, tenant := range []string{"acme", "globex"} {
		for _, signal := range []string{"logs", "metrics", "traces"} {
			want = append(want,
				series{"otelcol_tenant_records_accepted", []string{`tenant="` + tenant + `"`, `signal="` + signal + `"`}},
				series{"otelcol_tenantrouter_records_sent", []string{`tenant="` + tenant + `"`, `signal="` + signal + `"`}},
				series{"otelcol_tenantgateway_records", []string{`tenant="` + tenant + `"`, `signal="` + signal + `"`, `protocol="otlp"`}})
		}
		want = append(want, series{"otelcol_tenantpolicy_auth_accepted", []string{`tenant="` + tenant + `"`}})
	}
	for _, signal := range []string{"logs", "metrics", "traces"} {
		want = append(want, series{"otelcol_tenantredact_records", []string{`tenant="acme"`, `signal="` + signal + `"`}})
	}
	want = append(want,
		series{"otelcol_tenantredact_redactions", []string{`tenant="acme"`, `class="foreign_tenant"`}},
		series{"otelcol_tenantretention_records_flagged", []string{`tenant="acme"`, `signal="logs"`, `reason="expired"`}},
		series{"otelcol_tenantretention_records_flagged", []string{`tenant="globex"`, `signal="logs"`, `reason="expired"`}},
		series{"otelcol_tenantanomaly_score", []string{`tenant="acme"`, `feature="logs.records"`}})

	var last string
	deadline := time.Now().Add(20 * time.Second)
	for {
		last = scrape(t, metricsAddr)
		missing := 0
		for _, s := range want {
			if !hasSeries(last, s.metric, s.labels...) {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, s := range want {
		assert.True(t, hasSeries(last, s.metric, s.labels...), "no %s{%s} in the collector's metrics", s.metric, strings.Join(s.labels, ","))
	}
	if t.Failed() {
		var ours []string
		for _, l := range strings.Split(last, "\n") {
			if strings.HasPrefix(l, "otelcol_tenant") {
				ours = append(ours, l)
			}
		}
		t.Logf("tenancy series:\n%s", strings.Join(ours, "\n"))
	}
}
