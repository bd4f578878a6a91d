package tenantretentionprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor/internal/metadata"
)

// now is the fixed clock of the tests.
var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(now.Add(-d)) }

const day = 24 * time.Hour

func loadPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Load("testdata/tenants.yaml")
	require.NoError(t, err)
	return p
}

type harness struct {
	tel     *componenttest.Telemetry
	logs    processor.Logs
	metrics processor.Metrics
	traces  processor.Traces
	ls      *consumertest.LogsSink
	ms      *consumertest.MetricsSink
	ts      *consumertest.TracesSink
}

// newHarness starts the three signal processors of cfg, from the factory,
// on prov with the clock at now.
func newHarness(t *testing.T, cfg *Config, prov policy.Provider) *harness {
	return newHarnessAt(t, cfg, prov, now)
}

// newHarnessAt is newHarness with the clock at clock.
func newHarnessAt(t *testing.T, cfg *Config, prov policy.Provider, clock time.Time) *harness {
	h := &harness{tel: componenttest.NewTelemetry(), ls: new(consumertest.LogsSink), ms: new(consumertest.MetricsSink), ts: new(consumertest.TracesSink)}
	t.Cleanup(func() { _ = h.tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	ctx := context.Background()
	f := newFactory(func() time.Time { return clock })
	var err error
	h.logs, err = f.CreateLogs(ctx, set, cfg, h.ls)
	require.NoError(t, err)
	h.metrics, err = f.CreateMetrics(ctx, set, cfg, h.ms)
	require.NoError(t, err)
	h.traces, err = f.CreateTraces(ctx, set, cfg, h.ts)
	require.NoError(t, err)
	host := policytest.NewHost(prov, nil)
	for _, c := range []component.Component{h.logs, h.metrics, h.traces} {
		require.NoError(t, c.Start(ctx, host))
		t.Cleanup(func() { _ = c.Shutdown(ctx) })
	}
	return h
}

func config(region string, expired, outOfRegion Action) *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Region, cfg.Expired, cfg.OutOfRegion = region, expired, outOfRegion
	return cfg
}

// counters reads the processor's self-metrics as "name tenant signal
// reason" -> value.
func (h *harness) counters(t *testing.T) map[string]int64 {
	got := map[string]int64{}
	for _, name := range []string{"otelcol_tenantretention_records_dropped", "otelcol_tenantretention_records_flagged"} {
		m, err := h.tel.GetMetric(name)
		if err != nil {
			continue // nothing recorded yet
		}
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			tenant, _ := dp.Attributes.Value("tenant")
			signal, _ := dp.Attributes.Value("signal")
			reason, _ := dp.Attributes.Value("reason")
			got[name[len("otelcol_tenantretention_records_"):]+" "+tenant.AsString()+" "+signal.AsString()+" "+reason.AsString()] = dp.Value
		}
	}
	return got
}

// logsOf is one resource of tenant with a record per age (0: no
// timestamp), each with its age in the body.
func logsOf(ld plog.Logs, tenant string, ages ...time.Duration) {
	rl := ld.ResourceLogs().AppendEmpty()
	if tenant != "" {
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
	}
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, a := range ages {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(a.String())
		if a != 0 {
			lr.SetTimestamp(ago(a))
		}
	}
}

// bodies lists the bodies that reached the sink, per tenant.
func bodies(sink *consumertest.LogsSink) map[string][]string {
	out := map[string][]string{}
	for _, ld := range sink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			id, _ := rl.Resource().Attributes().Get(identity.AttrTenantID)
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out[id.AsString()] = append(out[id.AsString()], lr.Body().Str())
				}
			}
		}
	}
	return out
}

func TestLogsOutsideRetentionAreDropped(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	ld := plog.NewLogs()
	// acme keeps logs 7 days, initech the defaults' 30, _quarantine too.
	logsOf(ld, "acme", time.Hour, 6*day, 8*day, 0)
	logsOf(ld, "initech", 8*day, 31*day)
	logsOf(ld, "_quarantine", 29*day, 31*day)
	logsOf(ld, "", 40*day)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	assert.Equal(t, map[string][]string{
		"acme":        {"1h0m0s", "144h0m0s", "0s"},
		"initech":     {"192h0m0s"},
		"_quarantine": {"696h0m0s"},
	}, bodies(h.ls), "what is older than the tenant's retention is gone; a record without a timestamp stays")
	assert.Equal(t, map[string]int64{
		"dropped acme logs expired":        1,
		"dropped initech logs expired":     1,
		"dropped _quarantine logs expired": 1,
		"dropped _none logs expired":       1,
	}, h.counters(t))

	got := h.ls.AllLogs()[0].ResourceLogs()
	require.Equal(t, 3, got.Len(), "the resource whose only record expired is gone")
	ret, _ := got.At(0).Resource().Attributes().Get(AttrRetention)
	assert.Equal(t, "7d", ret.Str())
	res, _ := got.At(0).Resource().Attributes().Get(AttrResidency)
	assert.Equal(t, "eu-west", res.Str())
	ret, _ = got.At(1).Resource().Attributes().Get(AttrRetention)
	assert.Equal(t, "30d", ret.Str())
	_, ok := got.At(1).Resource().Attributes().Get(AttrResidency)
	assert.False(t, ok, "initech declares no residency")
}

func TestObservedTimestampWhenNoTimestamp(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	ld := plog.NewLogs()
	logsOf(ld, "acme", 0, 0)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(0).SetObservedTimestamp(ago(8 * day))
	lrs.At(0).Body().SetStr("old")
	lrs.At(1).SetObservedTimestamp(ago(time.Minute))
	lrs.At(1).Body().SetStr("new")
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, map[string][]string{"acme": {"new"}}, bodies(h.ls))
}

func TestFlagKeepsAndMarks(t *testing.T) {
	h := newHarness(t, config("", ActionFlag, ActionDrop), policy.Static{P: loadPolicy(t)})
	ld := plog.NewLogs()
	logsOf(ld, "acme", time.Hour, 8*day)
	// A client's own claim that a fresh record expired is not ours.
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutBool(AttrExpired, true)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	lrs := h.ls.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2, lrs.Len())
	_, ok := lrs.At(0).Attributes().Get(AttrExpired)
	assert.False(t, ok, "the fresh record's forged flag is removed")
	v, ok := lrs.At(1).Attributes().Get(AttrExpired)
	require.True(t, ok)
	assert.True(t, v.Bool())
	assert.Equal(t, map[string]int64{"flagged acme logs expired": 1}, h.counters(t))
}

func TestResidency(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    *Config
		want   map[string][]string
		counts map[string]int64
	}{
		{"not enforced without a region", config("", ActionDrop, ActionDrop),
			map[string][]string{"acme": {"1h0m0s"}, "globex": {"1h0m0s", "2h0m0s"}, "initech": {"1h0m0s"}}, map[string]int64{}},
		{"drop", config("eu-west", ActionDrop, ActionDrop),
			map[string][]string{"acme": {"1h0m0s"}, "initech": {"1h0m0s"}}, map[string]int64{"dropped globex logs residency": 2}},
		{"flag", config("eu-west", ActionDrop, ActionFlag),
			map[string][]string{"acme": {"1h0m0s"}, "globex": {"1h0m0s", "2h0m0s"}, "initech": {"1h0m0s"}}, map[string]int64{"flagged globex logs residency": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.cfg, policy.Static{P: loadPolicy(t)})
			ld := plog.NewLogs()
			logsOf(ld, "acme", time.Hour)
			logsOf(ld, "globex", time.Hour, 2*time.Hour)
			logsOf(ld, "initech", time.Hour)
			require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
			assert.Equal(t, tc.want, bodies(h.ls))
			assert.Equal(t, tc.counts, h.counters(t))
			for _, rl := range h.ls.AllLogs()[0].ResourceLogs().All() {
				id, _ := rl.Resource().Attributes().Get(identity.AttrTenantID)
				v, flagged := rl.Resource().Attributes().Get(AttrResidencyViolation)
				if id.Str() == "globex" && tc.cfg.Region != "" {
					require.True(t, flagged)
					assert.Equal(t, "eu-west", v.Str())
				} else {
					assert.False(t, flagged, id.Str())
				}
			}
		})
	}
}

func TestAllExpiredSendsNothing(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	ld := plog.NewLogs()
	logsOf(ld, "acme", 8*day, 9*day)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Empty(t, h.ls.AllLogs(), "an empty batch is not passed on")
	assert.Equal(t, map[string]int64{"dropped acme logs expired": 2}, h.counters(t))
}

func TestTraces(t *testing.T) {
	h := newHarness(t, config("eu-west", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	td := ptrace.NewTraces()
	add := func(tenant string, ends ...time.Duration) {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for _, e := range ends {
			sp := spans.AppendEmpty()
			sp.SetName(e.String())
			sp.SetStartTimestamp(ago(e + time.Minute))
			sp.SetEndTimestamp(ago(e))
		}
	}
	// acme keeps traces one day, initech the defaults' seven.
	add("acme", time.Hour, 25*time.Hour)
	add("initech", 25*time.Hour, 8*day)
	add("globex", time.Hour)
	require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))
	got := map[string][]string{}
	for _, rs := range h.ts.AllTraces()[0].ResourceSpans().All() {
		id, _ := rs.Resource().Attributes().Get(identity.AttrTenantID)
		ret, _ := rs.Resource().Attributes().Get(AttrRetention)
		got[id.Str()+" "+ret.Str()] = nil
		for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
			got[id.Str()+" "+ret.Str()] = append(got[id.Str()+" "+ret.Str()], sp.Name())
		}
	}
	assert.Equal(t, map[string][]string{"acme 1d": {"1h0m0s"}, "initech 7d": {"25h0m0s"}}, got)
	assert.Equal(t, map[string]int64{
		"dropped acme traces expired":     1,
		"dropped initech traces expired":  1,
		"dropped globex traces residency": 1,
	}, h.counters(t))
}

func TestMetricsEveryType(t *testing.T) {
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: loadPolicy(t)})
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme") // metrics: the defaults' 90 days
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	fresh, old := ago(time.Hour), ago(91*day)
	g := ms.AppendEmpty()
	g.SetName("gauge")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetTimestamp(fresh)
	g.Gauge().DataPoints().AppendEmpty().SetTimestamp(old)
	s := ms.AppendEmpty()
	s.SetName("sum")
	s.SetEmptySum().DataPoints().AppendEmpty().SetTimestamp(old)
	hi := ms.AppendEmpty()
	hi.SetName("histogram")
	hi.SetEmptyHistogram().DataPoints().AppendEmpty().SetTimestamp(fresh)
	e := ms.AppendEmpty()
	e.SetName("exponential")
	e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetTimestamp(old)
	su := ms.AppendEmpty()
	su.SetName("summary")
	su.SetEmptySummary().DataPoints().AppendEmpty().SetTimestamp(fresh)
	su.Summary().DataPoints().AppendEmpty().SetTimestamp(old)
	empty := ms.AppendEmpty()
	empty.SetName("no points")
	empty.SetEmptyGauge()
	require.NoError(t, h.metrics.ConsumeMetrics(context.Background(), md))

	got := map[string]int{}
	out := h.ms.AllMetrics()[0].ResourceMetrics().At(0)
	for _, m := range out.ScopeMetrics().At(0).Metrics().All() {
		got[m.Name()] = pdatacount.MetricDataPoints(m)
	}
	assert.Equal(t, map[string]int{"gauge": 1, "histogram": 1, "summary": 1, "no points": 0}, got,
		"expired points go, a metric that lost them all goes, one that came empty stays")
	ret, _ := out.Resource().Attributes().Get(AttrRetention)
	assert.Equal(t, "90d", ret.Str())
	assert.Equal(t, map[string]int64{"dropped acme metrics expired": 4}, h.counters(t))
}

func TestPolicyReload(t *testing.T) {
	prov := policytest.NewSwappable(loadPolicy(t))
	h := newHarness(t, config("", ActionDrop, ActionDrop), prov)
	send := func() {
		ld := plog.NewLogs()
		logsOf(ld, "acme", 3*day)
		require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	}
	send()
	next, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme:\n    identifiers: [acme]\n    retention: {logs: 2d}\n"))
	require.NoError(t, err)
	prov.Store(next)
	send()
	assert.Equal(t, map[string][]string{"acme": {"72h0m0s"}}, bodies(h.ls), "kept under 7d, dropped under 2d")
}

// A retention longer than the time since 1970 keeps everything (the
// cutoff would wrap round to the far future and drop everything).
func TestRetentionBeforeEpochKeepsAll(t *testing.T) {
	p, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme:\n    identifiers: [acme]\n    retention: {logs: 36500d}\n"))
	require.NoError(t, err)
	h := newHarness(t, config("", ActionDrop, ActionDrop), policy.Static{P: p})
	ld := plog.NewLogs()
	logsOf(ld, "acme", time.Hour, 50*365*day)
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, map[string][]string{"acme": {"1h0m0s", "438000h0m0s"}}, bodies(h.ls))
}

func TestFormatRetention(t *testing.T) {
	assert.Equal(t, "30d", formatRetention(30*day))
	assert.Equal(t, "14d", formatRetention(2*7*day))
	assert.Equal(t, "36h0m0s", formatRetention(36*time.Hour))
}
