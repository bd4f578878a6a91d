package tenantretentionprocessor

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func at(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(now.Add(d)) }

var y2200 = pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))

// originals lists each kept record's body, timestamp (as the time from
// now) and original time attribute ("" when none).
func originals(t *testing.T, sink interface{ AllLogs() []plog.Logs }) [][3]string {
	t.Helper()
	var out [][3]string
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
				orig, _ := lr.Attributes().Get(AttrOriginalTime)
				out = append(out, [3]string{lr.Body().Str(), lr.Timestamp().AsTime().Sub(now).String(), orig.Str()})
			}
		}
	}
	return out
}

func TestFutureTimestampsAreAgedFromIngestion(t *testing.T) {
	p, err := policy.Parse("tenants.yaml", []byte(`
defaults: {retention: {logs: 7d}}
tenants:
  acme: {}
  strict: {max_future_skew: 0}
`))
	require.NoError(t, err)
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: p})
	ld := plog.NewLogs()
	add := func(tenant, body string, ts pcommon.Timestamp) plog.LogRecord {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr(body)
		lr.SetTimestamp(ts)
		return lr
	}
	// A client's claim of an original time is not ours.
	add("acme", "within skew", at(30*time.Minute)).Attributes().PutStr(AttrOriginalTime, "forged")
	add("acme", "past skew", at(2*time.Hour)).SetObservedTimestamp(at(-time.Second)) // the receiver's clock is right
	add("acme", "year 2200", y2200)
	add("acme", "uint64 max", math.MaxUint64)
	add("strict", "a second ahead", at(time.Second))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	assert.Equal(t, [][3]string{
		{"within skew", "30m0s", ""},
		{"past skew", "0s", "2026-11-26T14:00:00Z"},
		{"year 2200", "0s", "2200-01-01T00:00:00Z"},
		{"uint64 max", "0s", "2554-07-21T23:34:33.709551615Z"},
		{"a second ahead", "0s", "2026-11-26T12:00:01Z"},
	}, originals(t, h.ls), "kept, the ones past the skew stamped with their ingestion time")
	assert.Equal(t, map[string]int64{"flagged acme logs future_skew": 3, "flagged strict logs future_skew": 1}, h.counters(t))
	assert.Equal(t, at(-time.Second), h.ls.AllLogs()[0].ResourceLogs().At(1).ScopeLogs().At(0).LogRecords().At(0).ObservedTimestamp(),
		"a right observed time stays")

	// Aged from its ingestion, each expires a week after it: eight days
	// on, none is left (the year-2200 record would have stayed until 2200).
	later := newHarnessAt(t, config("", ActionDrop, ActionDrop), policy.Static{P: p}, now.Add(8*day))
	require.NoError(t, later.logs.ConsumeLogs(context.Background(), h.ls.AllLogs()[0]))
	assert.Empty(t, later.ls.AllLogs())
	assert.Equal(t, map[string]int64{"dropped acme logs expired": 4, "dropped strict logs expired": 1}, later.counters(t))
}

func TestFutureSpansAndPointsMoveBackWhole(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetStartTimestamp(at(3 * time.Hour))
	sp.SetEndTimestamp(at(3*time.Hour + time.Minute))
	sp.Events().AppendEmpty().SetTimestamp(at(3*time.Hour + 30*time.Second))
	require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))
	got := h.ts.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, at(-time.Minute), got.StartTimestamp(), "the span keeps its duration")
	assert.Equal(t, at(0), got.EndTimestamp())
	assert.Equal(t, at(-30*time.Second), got.Events().At(0).Timestamp())
	orig, _ := got.Attributes().Get(AttrOriginalTime)
	assert.Equal(t, "2026-11-26T15:01:00Z", orig.Str())

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(y2200 - pcommon.Timestamp(time.Hour))
	dp.SetTimestamp(y2200)
	fresh := m.Sum().DataPoints().AppendEmpty()
	fresh.SetStartTimestamp(at(-time.Hour))
	fresh.SetTimestamp(at(0))
	require.NoError(t, h.metrics.ConsumeMetrics(context.Background(), md))
	pts := h.ms.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	require.Equal(t, 2, pts.Len())
	assert.Equal(t, [2]pcommon.Timestamp{at(-time.Hour), at(0)}, [2]pcommon.Timestamp{pts.At(0).StartTimestamp(), pts.At(0).Timestamp()})
	orig, _ = pts.At(0).Attributes().Get(AttrOriginalTime)
	assert.Equal(t, "2200-01-01T00:00:00Z", orig.Str())
	_, marked := pts.At(1).Attributes().Get(AttrOriginalTime)
	assert.False(t, marked)
	assert.Equal(t, map[string]int64{"flagged acme traces future_skew": 1, "flagged acme metrics future_skew": 1}, h.counters(t))
}

// repeatedTenant is a resource holding tenant.id twice, as OTLP delivers
// it, with one log record of the given age.
func repeatedTenant(t *testing.T, first, second string, age time.Duration) plog.Logs {
	t.Helper()
	js := `{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.id","value":{"stringValue":"` + first + `"}},` +
		`{"key":"tenant.id","value":{"stringValue":"` + second + `"}}]},` +
		`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(js))
	require.NoError(t, err)
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(ago(age))
	return ld
}

// TestRepeatedTenantTakesTheDefaults: a resource naming two tenants takes
// neither's retention nor residency, but the defaults'.
func TestRepeatedTenantTakesTheDefaults(t *testing.T) {
	for _, pair := range [][2]string{{"acme", "globex"}, {"globex", "acme"}} {
		h := newHarness(t, config("eu-west", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
		// acme keeps logs 7 days in eu-west, globex is in us-east; the
		// defaults keep them 30 days anywhere.
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), repeatedTenant(t, pair[0], pair[1], 8*day)))
		require.Len(t, h.ls.AllLogs(), 1, "%v: neither acme's retention nor globex's residency applies", pair)
		res := h.ls.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes()
		ret, _ := res.Get(AttrRetention)
		assert.Equal(t, "30d", ret.Str(), pair)
		_, ok := res.Get(AttrResidency)
		assert.False(t, ok, pair)
		assert.Empty(t, h.counters(t), pair)

		require.NoError(t, h.logs.ConsumeLogs(context.Background(), repeatedTenant(t, pair[0], pair[1], 31*day)))
		assert.Equal(t, map[string]int64{"dropped _none logs expired": 1}, h.counters(t), pair)
	}
}

// TestObservedTimeAheadAlone: a log record with only an observed time past
// the skew is aged from its ingestion too.
func TestObservedTimeAheadAlone(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	ld := plog.NewLogs()
	logsOf(ld, "acme", 0, 0)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(0).SetObservedTimestamp(y2200)
	lrs.At(1).SetObservedTimestamp(at(30 * time.Minute))
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	got := h.ls.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, [2]pcommon.Timestamp{at(0), at(30 * time.Minute)}, [2]pcommon.Timestamp{got.At(0).ObservedTimestamp(), got.At(1).ObservedTimestamp()})
	assert.Equal(t, pcommon.Timestamp(0), got.At(0).Timestamp())
}
