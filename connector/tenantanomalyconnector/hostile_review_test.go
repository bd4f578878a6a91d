package tenantanomalyconnector

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// hostileResource stamps one of the shapes a resource reaching the
// connector may have (after the tenant processor, or without one).
func hostileResource(attrs pcommon.Map, i int) {
	switch i % 8 {
	case 0:
		attrs.PutStr(identity.AttrTenantID, "hooli") // anomaly detection off
	case 1:
		attrs.PutStr(identity.AttrTenantID, "mallory") // not in the policy
	case 2:
		attrs.PutInt(identity.AttrTenantID, 7)
	case 3:
		attrs.PutStr(identity.AttrTenantID, policy.Governance)
		attrs.PutStr(AttrTenantID, "acme") // a governance record about acme
	case 4:
		attrs.PutStr(identity.AttrTenantID, policy.Quarantine)
		attrs.PutStr(identity.AttrClaimed, "acme,initech")
	case 5:
		attrs.PutStr(identity.AttrTenantID, policy.Quarantine)
		attrs.PutInt(identity.AttrAuthenticated, 1)
		attrs.PutStr(identity.AttrClaimed, "acme")
	case 6:
		attrs.PutEmptyMap(identity.AttrTenantID).PutStr("id", "acme")
	case 7:
		attrs.PutStr("service.name", "x")
	}
	attrs.PutInt("service.name", int64(i)) // not a string
}

// Hostile input, in bulk, of every signal: nothing panics, and the only
// _governance records the connector emits are about the policy tenants
// with anomaly detection on, each under a resource that is _governance's
// alone. A flood of everyone else's data (none of it acme's or
// initech's) lets neither of them be flagged, whatever the baselines.
func TestHostileInputFlagsOnlyItsOwners(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	steady := func() {
		h.sendLogs("acme", 100, 1)
		h.sendLogs("initech", 100, 1)
		h.sendSpans("acme", 50, 20_000_000)
		h.sendSpans("initech", 50, 20_000_000)
	}
	for range 40 {
		steady()
		h.flush()
	}
	require.Empty(t, h.anomalies(), "steady tenants are not flagged")

	for round := range 5 {
		ld := plog.NewLogs()
		md := pmetric.NewMetrics()
		td := ptrace.NewTraces()
		for i := range 400 {
			rl := ld.ResourceLogs().AppendEmpty()
			hostileResource(rl.Resource().Attributes(), i)
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for range 50 {
				lrs.AppendEmpty().SetSeverityNumber(plog.SeverityNumberFatal)
			}
			rm := md.ResourceMetrics().AppendEmpty()
			hostileResource(rm.Resource().Attributes(), i)
			ms := rm.ScopeMetrics().AppendEmpty().Metrics()
			ms.AppendEmpty().SetName("empty") // MetricTypeEmpty
			ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(math.NaN())
			ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
			ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
			rs := td.ResourceSpans().AppendEmpty()
			hostileResource(rs.Resource().Attributes(), i)
			spans := rs.ScopeSpans().AppendEmpty().Spans()
			sp := spans.AppendEmpty()
			sp.SetStartTimestamp(math.MaxUint64)
			sp.SetEndTimestamp(0)
			sp = spans.AppendEmpty()
			sp.SetStartTimestamp(0)
			sp.SetEndTimestamp(math.MaxUint64)
			sp.Status().SetCode(ptrace.StatusCodeError)
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d-%d", round, i))
		}
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
		require.NoError(t, h.metrics.ConsumeMetrics(context.Background(), md))
		require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))
		// The connector's own records, routed back in by a careless config.
		for _, out := range h.sink.AllLogs() {
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), out))
		}
		steady()
		h.flush()
	}
	assert.Empty(t, h.anomalies(), "a flood of data owned by no enabled tenant flags none of them")

	// And when a tenant's own data does change, the record is about it
	// alone, under _governance's resource.
	for range 3 {
		h.sendLogs("acme", 100, 1)
		h.sendSpans("acme", 50, 20_000_000)
		h.sendSpans("initech", 50, 20_000_000)
		h.sendLogs("initech", 5000, 4000)
		h.flush()
	}
	recs := h.anomalies()
	require.NotEmpty(t, recs)
	for _, lr := range recs {
		assert.Equal(t, "initech", str(lr.Attributes(), AttrTenantID))
	}
	for _, ld := range h.sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			id, reason := identity.TenantOf(ld.ResourceLogs().At(i).Resource().Attributes())
			assert.Empty(t, reason)
			assert.Equal(t, policy.Governance, id)
		}
	}
}
