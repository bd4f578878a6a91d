package tenantanomalyconnector

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tenancyhq/tenancy/internal/selfmetrics"
)

// Hostile review h28x of 7f12ea8: the tenantpolicy extension asks the
// SDK's cap for selfmetrics.SeriesPerTenant series per declared tenant.
// An honest tenant that sends logs, metrics and traces has a series of
// each of the connector's per-feature gauges for every feature of the
// three signals (6 + 5 + 8), so a cap sized as the warning says must hold
// at least that many per tenant, or a collector set as told still folds
// about half its tenants' anomaly series.
func TestH28xSeriesPerTenantHoldsEveryAnomalyFeature(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	r := rand.New(rand.NewPCG(28, 1))
	for range 3 {
		h.sendLogs("acme", 100, 2)
		h.sendSpans("acme", 20, 50*time.Millisecond)
		h.sendHistogram("acme", usualLatency(r))
		h.flush()
	}
	for _, name := range []string{"otelcol_tenantanomaly_score", "otelcol_tenantanomaly_observed", "otelcol_tenantanomaly_expected"} {
		n := 0
		for k := range gaugeMetric(t, h.tel, name) {
			if strings.HasPrefix(k, "acme ") {
				n++
			}
		}
		want := 0
		for s := range signalCount {
			want += len(signalFeatures[s])
		}
		assert.Equal(t, want, n, "%s: acme's series", name)
		assert.LessOrEqual(t, n, selfmetrics.SeriesPerTenant, "%s: one tenant's series within what the warning asks of the cap per tenant", name)
	}
}
