package tenantpolicyextension

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// tenantInfo reads otelcol_tenantpolicy_tenant_info as tenant -> "tier region".
func tenantInfo(t *testing.T, h *harness) map[string]string {
	t.Helper()
	m, err := h.tel.GetMetric("otelcol_tenantpolicy_tenant_info")
	require.NoError(t, err)
	got := map[string]string{}
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		assert.Equal(t, int64(1), dp.Value)
		tenant, _ := dp.Attributes.Value("tenant")
		tier, _ := dp.Attributes.Value("tier")
		region, _ := dp.Attributes.Value("region")
		got[tenant.AsString()] = tier.AsString() + " " + region.AsString()
	}
	return got
}

// One info series per declared tenant, with its tier and region, follows
// the policy in force: a reload that retiers a tenant or drops one changes
// the series at the next collection.
func TestTenantInfo(t *testing.T) {
	h := start(t, "defaults: {tier: standard}\ntenants:\n  acme: {tier: gold, residency: eu-west}\n  globex: {}\n  initech: {tier: gold}\n", nil)
	assert.Equal(t, map[string]string{"acme": "gold eu-west", "globex": "standard any", "initech": "gold any"}, tenantInfo(t, h))

	require.NoError(t, os.WriteFile(h.path, []byte("tenants:\n  acme: {tier: standard}\n  globex: {}\n"), 0o600))
	require.Eventually(t, func() bool {
		return len(tenantInfo(t, h)) == 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, map[string]string{"acme": "standard any", "globex": NoTier + " " + AnyRegion}, tenantInfo(t, h))
}
