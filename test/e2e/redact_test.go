package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

const redactConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "{{GRPC}}", auth: {authenticator: tenantpolicy}}
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  tenantredact: {}
exporters:
  tenantfile: {directory: "{{DATA}}"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant, tenantredact], exporters: [tenantfile]}
    traces: {receivers: [otlp], processors: [tenant, tenantredact], exporters: [tenantfile]}
`

// A shared service logs on behalf of acme about globex's customer: the
// record lands in acme's partition without globex's identifiers or the
// e-mail address acme's policy masks.
func TestEndToEndRedaction(t *testing.T) {
	policyYAML := strings.Replace(readRepoFile(t, "config/tenants.yaml"),
		"  acme:\n", "  acme:\n    redaction: {classes: {email: mask, credit_card: remove}}\n", 1)
	c := startCollectorWith(t, policyYAML, redactConfig)

	p := newPayload("m-redact refund to bob@globex.example card 4111 1111 1111 1111 for acme.example", "")
	p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutStr("customer", "ak_globex_7f3a9c")
	p.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetName("GET https://api.globex.example/v1/orders")
	key := map[string]string{"X-API-Key": demoKeys["acme"]}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, key))
	require.Equal(t, http.StatusOK, c.postHTTP(t, "traces", p, key))

	waitFor(t, "acme's redacted records", 15*time.Second, func() bool {
		return len(c.lines(t, "acme", "logs")) > 0 && len(c.lines(t, "acme", "traces")) > 0
	})
	logs := strings.Join(c.lines(t, "acme", "logs"), "\n")
	traces := strings.Join(c.lines(t, "acme", "traces"), "\n")
	for _, leaked := range []string{"globex.example", "ak_globex_7f3a9c", "bob@", "4111 1111 1111 1111"} {
		assert.NotContains(t, logs, leaked)
		assert.NotContains(t, traces, leaked)
	}
	assert.Contains(t, logs, "acme.example", "acme's own identifiers stay in acme's records")
	assert.Contains(t, logs, "m-redact refund to")
	assert.Contains(t, logs, "foreign_tenant")
	// The audit: the changed record carries its classes only, its
	// resource the counts, all classes and the policy version.
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(c.lines(t, "acme", "logs")[0]))
	require.NoError(t, err)
	require.Positive(t, ld.ResourceLogs().Len())
	rl := ld.ResourceLogs().At(0)
	res := rl.Resource().Attributes().AsRaw()
	assert.Equal(t, int64(1), res["tenant.redaction.records"], "one record changed")
	assert.Positive(t, res["tenant.redaction.count"])
	assert.NotEmpty(t, res["tenant.redaction.policy_version"])
	assert.Contains(t, res["tenant.redaction.classes"], "foreign_tenant")
	rec := rl.ScopeLogs().At(0).LogRecords().At(0).Attributes().AsRaw()
	assert.Contains(t, rec["tenant.redaction.classes"], "foreign_tenant")
	for _, k := range []string{"tenant.redaction.count", "tenant.redaction.records", "tenant.redaction.policy_version"} {
		assert.NotContains(t, rec, k, "a record carries its classes only")
	}
	assert.Contains(t, traces, "GET https://")
}
