package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cardinalityConfig is the gateway, identity and redaction, with the
// records thrown away: what is measured is the collector's own metrics.
const cardinalityConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}"}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  tenantgateway:
    endpoint: "{{HTTP}}"
    auth: {authenticator: tenantpolicy}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  tenantredact: {}
exporters:
  debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000}
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus: {host: "127.0.0.1", port: {{METRICS_PORT}}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [tenantgateway], processors: [tenant, tenantredact], exporters: [debug]}
`

// The OpenTelemetry SDK's cap on the series of one metric (2,000 unless
// OTEL_GO_X_CARDINALITY_LIMIT says otherwise) is the operator's to size
// (docs/decisions.md). Left unset with 2,500 tenants, the built collector
// warns at start with the figure to set, and the info series folds
// tenants into an overflow series (which TenancySelfMetricsOverflowing
// alerts on). Set as the warning says, every per-tenant metric keeps a
// series for each tenant: the info series of all 2,500, the counters of
// each of 2,100 that sent a record.
func TestPerTenantMetricsKeepEveryTenant(t *testing.T) {
	const declared, sending = 2500, 2100
	id := func(i int) string { return fmt.Sprintf("c%05d", i) }
	key := func(id string) string { return id + "-cardinality-key-0001" }
	var policy strings.Builder
	policy.WriteString("defaults:\n  redaction: {classes: {email: mask}}\ntenants:\n")
	for i := range declared {
		sum := sha256.Sum256([]byte(key(id(i))))
		fmt.Fprintf(&policy, "  %s: {api_keys: [\"sha256:%s\"]}\n", id(i), hex.EncodeToString(sum[:]))
	}
	tenantsOf := func(exposition, metric string) (tenants map[string]bool, overflow bool) {
		tenants = map[string]bool{}
		for _, line := range strings.Split(exposition, "\n") {
			if !strings.HasPrefix(line, metric+"{") {
				continue
			}
			if strings.Contains(line, `otel_metric_overflow="true"`) {
				overflow = true
			}
			if _, rest, ok := strings.Cut(line, `tenant="`); ok {
				tenants[rest[:strings.IndexByte(rest, '"')]] = true
			}
		}
		return tenants, overflow
	}

	t.Run("cap unset", func(t *testing.T) {
		t.Setenv("OTEL_GO_X_CARDINALITY_LIMIT", "") // the SDK's default, 2,000
		c, metricsAddr := startWithMetrics(t, policy.String(), cardinalityConfig)
		waitFor(t, "the warning", 10*time.Second, func() bool {
			return strings.Contains(c.stderr.String(), "set OTEL_GO_X_CARDINALITY_LIMIT in the collector's environment to at least 62500")
		})
		info, overflow := tenantsOf(scrape(t, metricsAddr), "otelcol_tenantpolicy_tenant_info")
		assert.True(t, overflow, "the info series folds past the cap")
		assert.Len(t, info, 1999)
	})

	t.Run("cap set as the warning says", func(t *testing.T) {
		t.Setenv("OTEL_GO_X_CARDINALITY_LIMIT", "62500")
		c, metricsAddr := startWithMetrics(t, policy.String(), cardinalityConfig)
		p := newPayload("m-cardinality order for ops@example.com", "") // redacted: tenantredact counts it
		for i := range sending {
			require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, map[string]string{"X-API-Key": key(id(i))}), id(i))
		}
		var exposition string
		waitFor(t, "every sender's records counted", 30*time.Second, func() bool {
			exposition = scrape(t, metricsAddr)
			got, _ := tenantsOf(exposition, "otelcol_tenant_records_accepted")
			return len(got) >= sending
		})
		info, overflow := tenantsOf(exposition, "otelcol_tenantpolicy_tenant_info")
		assert.False(t, overflow)
		assert.Len(t, info, declared)
		for _, metric := range []string{"otelcol_tenant_records_accepted", "otelcol_tenantgateway_records", "otelcol_tenantredact_records", "otelcol_tenantredact_redactions", "otelcol_tenantpolicy_auth_accepted"} {
			got, overflow := tenantsOf(exposition, metric)
			assert.False(t, overflow, metric)
			assert.Len(t, got, sending, metric)
			assert.True(t, got[id(0)] && got[id(sending-1)], "%s: the first and last sender", metric)
		}
		assert.NotContains(t, c.stderr.String(), "Per-tenant self-metrics will lose tenants")
	})
}
