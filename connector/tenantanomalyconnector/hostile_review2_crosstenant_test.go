package tenantanomalyconnector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Hostile review of 41512ef and 5f4bc55: acme's quarantined resources
// (spoofing globex, or claiming globex with no credential) carry a
// configured metric's points and spans of a service; they reach neither
// tenant's metric values nor its service slots (a quarantined resource
// counts only in the quarantine counts), so acme cannot move globex's
// value or service baselines, nor take its service slots.
func TestHostileReview2QuarantinedPointsReachNoValues(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"latency"}
	cfg.MaxServices = 4
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	ctx := context.Background()
	for _, q := range []map[string]string{
		{identity.AttrQuarantineReason: reasonSpoofed, identity.AttrClaimed: "globex", identity.AttrAuthenticated: "acme"},
		{identity.AttrQuarantineReason: "unverified", identity.AttrClaimed: "globex"},
	} {
		resource := func(a pcommon.Map) {
			a.PutStr(identity.AttrTenantID, policy.Quarantine)
			a.PutStr("service.name", "ledger")
			for k, v := range q {
				a.PutStr(k, v)
			}
		}
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		resource(rm.Resource().Attributes())
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("latency")
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(1e6)
		require.NoError(t, h.metrics.ConsumeMetrics(ctx, md))
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		resource(rs.Resource().Attributes())
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetStartTimestamp(1)
		sp.SetEndTimestamp(1e12)
		require.NoError(t, h.traces.ConsumeTraces(ctx, td))
	}
	m := h.monitor()
	acme := m.series["acme"]
	acme.mu.Lock()
	require.NotNil(t, acme.sig[signalMetrics], "the spoof counts for acme's quarantine counts")
	require.NotNil(t, acme.sig[signalTraces])
	acme.mu.Unlock()
	for _, id := range []string{"acme", "globex"} {
		ts := m.series[id]
		if ts == nil {
			continue
		}
		ts.mu.Lock()
		if ss := ts.sig[signalMetrics]; ss != nil {
			assert.Nil(t, ss.acc.metricValues, "%s's metric values", id)
		}
		if ss := ts.sig[signalTraces]; ss != nil {
			assert.Nil(t, ss.acc.perService, "%s's service slots", id)
		}
		ts.mu.Unlock()
	}
}
