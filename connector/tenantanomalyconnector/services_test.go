package tenantanomalyconnector

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// sendServiceSpans sends n spans of one service of tenant, each lasting
// d(), errs of them with status Error.
func (h *harness) sendServiceSpans(tenant, service string, n, errs int, d func() time.Duration) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
	rs.Resource().Attributes().PutStr("service.name", service)
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	start := pcommon.NewTimestampFromTime(t0)
	for i := range n {
		sp := spans.AppendEmpty()
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(d()))
		if i < errs {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	require.NoError(h.t, h.traces.ConsumeTraces(context.Background(), td))
}

// A small service's requests get slow: too few spans to move the tenant's
// p99, but its own series flag it, by name. The other tenant, and the
// tenant-wide latency, stay quiet.
func TestServiceLatencySpike(t *testing.T) {
	cfg := testConfig()
	cfg.MaxServices = 4
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	// Durations spread evenly over a range, the same every interval: the
	// detector flags a rare extreme of a noisy small sample (a service's
	// p99 over 10 spans) as it should, so this baseline has none.
	spread := func(lo, hi time.Duration, n int) func() time.Duration {
		i := 0
		return func() time.Duration {
			d := lo + (hi-lo)*time.Duration(i%n)/time.Duration(n)
			i++
			return d
		}
	}
	baseline := func(tn string, ledger func() time.Duration) {
		h.sendServiceSpans(tn, "checkout", 1200, 0, spread(45*time.Millisecond, 55*time.Millisecond, 1200))
		h.sendServiceSpans(tn, "ledger", 10, 0, ledger)
	}
	for range 40 {
		baseline("acme", spread(20*time.Millisecond, 24*time.Millisecond, 10))
		baseline("initech", spread(20*time.Millisecond, 24*time.Millisecond, 10))
		h.flush()
	}
	require.Empty(t, h.anomalies(), "a steady baseline is not an anomaly")

	baseline("acme", func() time.Duration { return 2 * time.Second })
	baseline("initech", spread(20*time.Millisecond, 24*time.Millisecond, 10))
	h.flush()

	got := h.anomalies()
	require.Len(t, got, 1)
	a := got[0].Attributes()
	assert.Equal(t, "acme", str(a, AttrTenantID))
	assert.True(t, strings.HasPrefix(str(a, AttrFeature), "traces.service.ledger.latency_p"), str(a, AttrFeature))
	observed, _ := a.Get(AttrObserved)
	assert.InEpsilon(t, 2000, observed.Double(), 0.02)
	features, _ := a.Get(AttrFeatures)
	assert.Contains(t, features.Slice().AsRaw(), "traces.service.ledger.latency_p99")
	assert.NotContains(t, features.Slice().AsRaw(), "traces.latency_p99")
	assert.NotContains(t, features.Slice().AsRaw(), "traces.service.checkout.latency_p99")
}

// The error ratio per service, and a service's slot freed after it was
// silent for its probation.
func TestServiceErrorRatioAndIdle(t *testing.T) {
	cfg := testConfig()
	cfg.MaxServices = 2
	var a accumulator
	add := func(svc string, n, errs int) {
		s := a.service(svc, cfg)
		require.NotNil(t, s)
		for i := range n {
			s.addSpan(i < errs, float64(i+1))
		}
	}
	add("checkout", 100, 25)
	add("ledger", 10, 0)
	a.closeServices()
	slots := a.perService.slots
	require.Len(t, slots, 2)
	assert.InDelta(t, 0.25, slots[0].closed[serviceErrorRatio], 1e-9)
	assert.InEpsilon(t, 50, slots[0].closed[serviceLatencyP50], 0.02)
	assert.InEpsilon(t, 99, slots[0].closed[serviceLatencyP99], 0.02)
	assert.Equal(t, 0.0, slots[1].closed[serviceErrorRatio])

	for range cfg.serviceIdle() {
		add("checkout", 1, 0)
		a.closeServices()
	}
	require.Len(t, a.perService.slots, 2, "ledger is idle, not gone yet")
	assert.True(t, a.perService.slots[1].closed[serviceErrorRatio] != a.perService.slots[1].closed[serviceErrorRatio], "no spans: NaN")
	add("checkout", 1, 0)
	a.closeServices()
	require.Len(t, a.perService.slots, 1, "ledger's slot is freed")
	assert.Equal(t, "checkout", a.perService.slots[0].name)
	assert.NotNil(t, a.service("billing", cfg), "the freed slot takes a new service")
}

// A tenant that sends spans under ever new service names gets at most
// max_services slots; the other services' spans count for the tenant's
// traces features and as overflow. A name longer than 128 bytes takes no
// slot.
func TestServiceSlotsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.MaxServices = 3
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	h.sendServiceSpans("acme", strings.Repeat("s", maxServiceNameLength+1), 5, 0, func() time.Duration { return time.Millisecond })
	for i := range 100 {
		h.sendServiceSpans("acme", fmt.Sprintf("svc-%d", i), 2, 1, func() time.Duration { return time.Millisecond })
	}
	acc := &h.monitor().series["acme"].sig[signalTraces].acc
	require.Len(t, acc.perService.slots, 3)
	assert.Equal(t, "svc-0", acc.perService.slots[0].name)
	assert.EqualValues(t, 5+97*2, acc.perService.overflow)
	assert.EqualValues(t, 205, acc.records, "every span counts for the tenant")
	h.flush()
}

func TestNoServiceSeriesUnlessConfigured(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	h.sendServiceSpans("acme", "checkout", 5, 0, func() time.Duration { return time.Millisecond })
	assert.Nil(t, h.monitor().series["acme"].sig[signalTraces].acc.perService)
}
