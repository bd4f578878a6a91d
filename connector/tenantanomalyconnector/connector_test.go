package tenantanomalyconnector

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact"
)

// baseline sends every tenant an ordinary interval: about 100 log records
// (2 of them errors) and 20 spans of about 50ms.
func baseline(h *harness, r *rand.Rand, tenants ...string) {
	for _, tn := range tenants {
		h.sendLogs(tn, 95+r.IntN(11), 2)
		h.sendSpans(tn, 20, time.Duration(45+r.IntN(10))*time.Millisecond)
	}
}

var allTenants = []string{"acme", "initech", "hooli"}

func TestVolumeSpikeFlagsOnlyThatTenant(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	r := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		baseline(h, r, allTenants...)
		h.flush()
	}
	require.Empty(t, h.anomalies(), "a steady baseline is not an anomaly")

	// acme and hooli (detection disabled) send twenty times their volume.
	baseline(h, r, "initech")
	h.sendLogs("acme", 2000, 2)
	h.sendLogs("hooli", 2000, 2)
	h.sendSpans("acme", 20, 50*time.Millisecond)
	h.sendSpans("hooli", 20, 50*time.Millisecond)
	spikeEnd := h.clock.Now().Add(h.cfg.Interval)
	h.flush()

	got := h.anomalies()
	require.Len(t, got, 1)
	lr := got[0]
	a := lr.Attributes()
	assert.Equal(t, "acme", str(a, AttrTenantID))
	assert.Equal(t, identity.Fingerprint([]byte(testSecret), "acme"), str(a, AttrFingerprint))
	assert.Contains(t, []string{"logs.records", "logs.bytes"}, str(a, AttrFeature))
	features, _ := a.Get(AttrFeatures)
	assert.Contains(t, features.Slice().AsRaw(), "logs.records")
	observed, _ := a.Get(AttrObserved)
	expected, ok := a.Get(AttrExpected)
	require.True(t, ok, "the record says what the baseline expected")
	if str(a, AttrFeature) == "logs.records" {
		assert.Equal(t, 2000.0, observed.Double())
		// The baseline sent 95 to 105 records an interval.
		assert.InDelta(t, 100, expected.Double(), 6)
	} else {
		assert.Less(t, expected.Double(), observed.Double()/5)
	}
	score, _ := a.Get(AttrScore)
	assert.GreaterOrEqual(t, score.Double(), 0.5)
	assert.Equal(t, spikeEnd.Add(-time.Minute).Format(time.RFC3339Nano), str(a, AttrStart))
	assert.Equal(t, spikeEnd.Format(time.RFC3339Nano), str(a, AttrEnd))
	assert.Equal(t, plog.SeverityNumberWarn, lr.SeverityNumber())
	assert.Equal(t, "WARN", lr.SeverityText())
	assert.Equal(t, pcommon.NewTimestampFromTime(spikeEnd), lr.Timestamp())
	gov := h.sink.AllLogs()[len(h.sink.AllLogs())-1].ResourceLogs().At(0).Resource().Attributes()
	assert.Equal(t, policy.Governance, str(gov, identity.AttrTenantID))
	assert.Equal(t, identity.Fingerprint([]byte(testSecret), policy.Governance), str(gov, identity.AttrFingerprint))

	// The score metric has acme's spike and no series of the disabled tenant.
	scores := gaugeMetric(t, h.tel, "otelcol_tenantanomaly_score")
	assert.GreaterOrEqual(t, scores["acme logs.records"], 0.5)
	assert.Less(t, scores["initech logs.records"], 0.5)
	assert.Contains(t, scores, "acme traces.latency_p99")
	assert.NotContains(t, scores, "hooli logs.records")

	// One event, one record: back to normal for a while, nothing more.
	for range 10 {
		baseline(h, r, allTenants...)
		h.flush()
	}
	assert.Len(t, h.anomalies(), 1)
}

// gaugeMetric returns the points of one of the connector's per-series
// gauges by "tenant feature".
func gaugeMetric(t *testing.T, tel *componenttest.Telemetry, name string) map[string]float64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	out := map[string]float64{}
	for _, dp := range m.Data.(metricdata.Gauge[float64]).DataPoints {
		tn, _ := dp.Attributes.Value("tenant")
		f, _ := dp.Attributes.Value("feature")
		out[tn.AsString()+" "+f.AsString()] = dp.Value
	}
	return out
}

// The observed and expected gauges say, per feature, what the anomaly
// record says about its top feature, for the same series as the score:
// enabled policy tenants only, never a disabled or undeclared one.
func TestObservedAndExpectedMetrics(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	r := rand.New(rand.NewPCG(3, 4))
	tenants := append([]string{"umbrella"}, allTenants...) // umbrella is not in the policy

	// After the first interval there is a value but no baseline to have
	// expected it from.
	baseline(h, r, tenants...)
	h.flush()
	observed := gaugeMetric(t, h.tel, "otelcol_tenantanomaly_observed")
	assert.Contains(t, observed, "acme logs.records")
	_, err := h.tel.GetMetric("otelcol_tenantanomaly_expected")
	require.Error(t, err, "no expected value before a baseline exists")

	for range 40 {
		baseline(h, r, tenants...)
		h.flush()
	}
	require.Empty(t, h.anomalies())

	h.sendLogs("acme", 2000, 2)
	h.sendSpans("acme", 20, 50*time.Millisecond)
	h.sendLogs("initech", 100, 2)
	h.sendSpans("initech", 20, 50*time.Millisecond)
	for _, tn := range []string{"hooli", "umbrella"} {
		h.sendLogs(tn, 2000, 2)
		h.sendSpans(tn, 20, 50*time.Millisecond)
	}
	h.flush()
	got := h.anomalies()
	require.Len(t, got, 1)
	a := got[0].Attributes()
	require.Equal(t, "acme", str(a, AttrTenantID))
	rec := map[string]float64{}
	for _, k := range []string{AttrObserved, AttrExpected} {
		v, ok := a.Get(k)
		require.True(t, ok, k)
		rec[k] = v.Double()
	}

	key := "acme " + str(a, AttrFeature)
	observed = gaugeMetric(t, h.tel, "otelcol_tenantanomaly_observed")
	expected := gaugeMetric(t, h.tel, "otelcol_tenantanomaly_expected")
	scores := gaugeMetric(t, h.tel, "otelcol_tenantanomaly_score")
	assert.Equal(t, rec[AttrObserved], observed[key], key)
	assert.Equal(t, rec[AttrExpected], expected[key], key)
	assert.Greater(t, observed[key], 5*expected[key], "the spike against its baseline")
	assert.Equal(t, 2000.0, observed["acme logs.records"])
	assert.InDelta(t, 100, expected["acme logs.records"], 6, "the baseline sent 95 to 105 records an interval")
	assert.Equal(t, 100.0, observed["initech logs.records"])
	assert.InDelta(t, 50, observed["initech traces.latency_p50"], 1)

	// Every tenant sent every signal, so the three gauges have the same
	// series: the enabled policy tenants' features.
	keys := func(m map[string]float64) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	assert.ElementsMatch(t, keys(scores), keys(observed))
	assert.ElementsMatch(t, keys(scores), keys(expected))
	assert.Len(t, observed, 2*(len(signalFeatures[signalLogs])+len(signalFeatures[signalTraces])))
	for k := range observed {
		assert.Regexp(t, "^(acme|initech) ", k)
	}
}

func TestProbationAndFirstPartialInterval(t *testing.T) {
	// Started mid-interval: the first interval is partial and dropped.
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0.Add(-30*time.Second))
	h.sendLogs("acme", 100, 0)
	h.monitor().flush(context.Background(), h.clock.Add(30*time.Second))
	acme := h.monitor().series["acme"]
	assert.Nil(t, acme.sig[signalLogs].det[featRecords], "the partial interval fed no detector")
	// Within probation even a spike scores 0.
	for i := range 5 {
		h.sendLogs("acme", 100+1000*i, 0)
		h.flush()
	}
	assert.Empty(t, h.anomalies())
	assert.EqualValues(t, 5, acme.sig[signalLogs].det[featRecords].Points())
}

func TestFeatures(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	h.sendLogs("acme", 10, 3)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.Resource().Attributes().PutStr("service.name", "billing")
	// One record of two redacted: the resource carries the redactor's
	// counts for both, only the changed record its classes.
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Attributes().PutEmptySlice(redact.AttrClasses).AppendEmpty().SetStr("email")
	lrs.AppendEmpty()
	rl.Resource().Attributes().PutInt(redact.AttrCount, 2)
	rl.Resource().Attributes().PutInt(redact.AttrRecords, 1)
	rl.Resource().Attributes().PutEmptySlice(redact.AttrClasses).AppendEmpty().SetStr("email")
	rl.Resource().Attributes().PutStr(redact.AttrPolicyVersion, "pv1")
	// Quarantined while claiming acme: counted as acme's; claiming an
	// unknown tenant or nothing: counted for nobody.
	for _, claimed := range []string{"acme", "nobody", ""} {
		q := ld.ResourceLogs().AppendEmpty()
		q.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Quarantine)
		if claimed != "" {
			q.Resource().Attributes().PutStr(identity.AttrClaimed, claimed)
		}
		q.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	}
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	for i := range 100 {
		sp := spans.AppendEmpty()
		sp.SetStartTimestamp(1000)
		sp.SetEndTimestamp(1000 + pcommon.Timestamp(i+1)*pcommon.Timestamp(time.Millisecond))
		if i%4 == 0 {
			sp.Status().SetCode(ptrace.StatusCodeError)
		}
	}
	require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))

	acme := h.monitor().series["acme"]
	logs := acme.sig[signalLogs].acc.values()
	assert.Equal(t, 12.0, logs[featRecords])
	assert.InDelta(t, 3.0/12, logs[featErrorRatio], 1e-9)
	assert.Equal(t, 1.0, logs[featQuarantined])
	assert.Equal(t, 1.0, logs[featRedacted])
	assert.Equal(t, 2.0, logs[featServices])
	assert.Greater(t, logs[featBytes], 10*40.0)
	assert.True(t, math.IsNaN(logs[featLatencyP50]))

	traces := acme.sig[signalTraces].acc.values()
	assert.Equal(t, 100.0, traces[featRecords])
	assert.InDelta(t, 0.25, traces[featErrorRatio], 1e-9)
	assert.InDelta(t, 50, traces[featLatencyP50], 1.5)
	assert.InDelta(t, 99, traces[featLatencyP99], 2)
	assert.Equal(t, 0.0, traces[featServices])
	assert.Equal(t, float64(tracesSizer.ResourceSpansSize(rs)), traces[featBytes])

	// values() reset the interval.
	again := acme.sig[signalLogs].acc.values()
	assert.Equal(t, 0.0, again[featRecords])
	assert.Equal(t, 0.0, again[featServices])
	assert.True(t, math.IsNaN(again[featErrorRatio]))
}

func TestMetricsDataPoints(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty().SetEmptyGauge().DataPoints()
	g.AppendEmpty().Attributes().PutEmptySlice(redact.AttrClasses).AppendEmpty().SetStr("email")
	g.AppendEmpty()
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Attributes().PutEmptySlice(redact.AttrClasses).AppendEmpty().SetStr("ipv4")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	rm.Resource().Attributes().PutInt(redact.AttrCount, 5)
	points, redacted := dataPoints(rm)
	assert.Equal(t, int64(6), points)
	assert.Equal(t, int64(2), redacted, "the points carrying classes, not all the points of a stamped resource")
}

func TestRedactionAttributeName(t *testing.T) {
	assert.Equal(t, redact.AttrClasses, attrRedactionClasses)
}

// The redacted feature counts the records the redactor changed, as the
// redactor leaves them: a resource whose own attribute and one of whose
// three records held another tenant's name has one redacted record, for
// each signal.
func TestRedactedCountsChangedRecords(t *testing.T) {
	pol := loadPolicy(t)
	r, err := redact.New(pol, redact.Options{})
	require.NoError(t, err)
	h := newHarness(t, testConfig(), pol, nil, t0)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.Resource().Attributes().PutStr("host.name", "initech-db-1")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, body := range []string{"paid by initech", "shipped", "refunded"} {
		lrs.AppendEmpty().Body().SetStr(body)
	}
	// A resource whose own attribute alone changed: no record redacted.
	own := ld.ResourceLogs().AppendEmpty()
	own.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	own.Resource().Attributes().PutStr("host.name", "initech-db-2")
	own.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("ok")
	r.Logs(ld)
	records, ok := rl.Resource().Attributes().Get(redact.AttrRecords)
	require.True(t, ok, "the redactor stamped the resource")
	require.Equal(t, int64(1), records.Int())
	_, ok = own.Resource().Attributes().Get(redact.AttrCount)
	require.True(t, ok, "the redactor stamped the resource whose own attribute changed")
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rs.Resource().Attributes().PutStr("host.name", "initech-db-1")
	for _, name := range []string{"GET /initech", "GET /a", "GET /b"} {
		rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName(name)
	}
	r.Traces(td)
	require.NoError(t, h.traces.ConsumeTraces(context.Background(), td))

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rm.Resource().Attributes().PutStr("host.name", "initech-db-1")
	g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
	for _, customer := range []string{"initech", "a", "b"} {
		g.AppendEmpty().Attributes().PutStr("customer", customer)
	}
	r.Metrics(md)
	require.NoError(t, h.metrics.ConsumeMetrics(context.Background(), md))

	acme := h.monitor().series["acme"]
	for _, s := range []signal{signalLogs, signalTraces, signalMetrics} {
		v := acme.sig[s].acc.values()
		assert.Equal(t, 1.0, v[featRedacted], "signal %v", s)
	}
}

// The connector is the end of the pipelines that feed it: it passes
// nothing on, changes nothing it reads (the collector hands it read-only
// data when another exporter shares the batch), and emits only anomaly
// records.
func TestPassesNothingOn(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	assert.False(t, h.logs.Capabilities().MutatesData)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("order accepted")
	ld.MarkReadOnly()
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	md.MarkReadOnly()
	require.NoError(t, h.metrics.ConsumeMetrics(context.Background(), md))
	h.sendSpans("acme", 3, time.Millisecond)
	assert.Zero(t, h.sink.LogRecordCount(), "nothing observed is passed on")
	acme := h.monitor().series["acme"]
	assert.EqualValues(t, 1, acme.sig[signalLogs].acc.records)
	assert.EqualValues(t, 1, acme.sig[signalMetrics].acc.records)
	assert.EqualValues(t, 3, acme.sig[signalTraces].acc.records)
}

// The instances of one id share one monitor, whichever signal they take
// in; another id has its own; after the shutdown the next start of the id
// builds a new one (a collector reload).
func TestInstancesShareOneMonitor(t *testing.T) {
	f := newFactory(options{now: time.Now, manual: true})
	cfg := testConfig()
	set := connectortest.NewNopSettings(metadata.Type)
	logs, err := f.CreateLogsToLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	metrics, err := f.CreateMetricsToLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	traces, err := f.CreateTracesToLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	m := logs.(logsConnector).Unwrap()
	assert.Same(t, m, metrics.(metricsConnector).Unwrap())
	assert.Same(t, m, traces.(tracesConnector).Unwrap())

	other := connectortest.NewNopSettings(metadata.Type)
	other.ID = component.NewIDWithName(metadata.Type, "other")
	otherLogs, err := f.CreateLogsToLogs(context.Background(), other, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.NotSame(t, m, otherLogs.(logsConnector).Unwrap())

	for _, c := range []component.Component{logs, metrics, traces, otherLogs} {
		require.NoError(t, c.Shutdown(context.Background()))
	}
	again, err := f.CreateLogsToLogs(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.NotSame(t, m, again.(logsConnector).Unwrap(), "the shutdown released the shared monitor")
	require.NoError(t, again.Shutdown(context.Background()))
}

func TestBaselinesSurviveRestart(t *testing.T) {
	st := newMemStorage()
	cfg := testConfig()
	cfg.Storage = &storageID
	r := rand.New(rand.NewPCG(5, 6))
	h := newHarness(t, cfg, loadPolicy(t), st, t0)
	for range 30 {
		baseline(h, r, "acme", "initech")
		h.flush()
	}
	end := h.clock.Now()
	h.shutdown()

	// The next process: a spike on its first full interval is flagged, with
	// no new probation (probation is 10 intervals).
	h2 := newHarness(t, cfg, loadPolicy(t), st, end)
	assert.Equal(t, 2*(len(signalFeatures[signalLogs])+len(signalFeatures[signalTraces])), h2.monitor().restored)
	acme := h2.monitor().series["acme"]
	assert.EqualValues(t, 30, acme.sig[signalLogs].det[featRecords].Points())
	h2.sendLogs("acme", 3000, 0)
	baseline(h2, r, "initech")
	h2.flush()
	got := h2.anomalies()
	require.Len(t, got, 1)
	assert.Equal(t, "acme", str(got[0].Attributes(), AttrTenantID))

	// Without the store the same spike falls in probation.
	h3 := newHarness(t, cfg, loadPolicy(t), newMemStorage(), end)
	h3.sendLogs("acme", 3000, 0)
	h3.flush()
	assert.Empty(t, h3.anomalies())
}

func TestDamagedStoreStartsFresh(t *testing.T) {
	st := newMemStorage()
	cfg := testConfig()
	cfg.Storage = &storageID
	h := newHarness(t, cfg, loadPolicy(t), st, t0)
	for range 3 {
		baseline(h, rand.New(rand.NewPCG(7, 8)), "acme", "initech")
		h.flush()
	}
	h.shutdown()
	for k := range st.data {
		if len(k) > len("acme") && k[len(k)-len("acme"):] == "acme" {
			st.data[k] = st.data[k][:100]
		}
	}
	h2 := newHarness(t, cfg, loadPolicy(t), st, h.clock.Now())
	assert.Equal(t, len(signalFeatures[signalLogs])+len(signalFeatures[signalTraces]), h2.monitor().restored, "initech is restored, acme starts fresh")
	assert.Nil(t, h2.monitor().series["acme"].sig[signalLogs])
}

func TestCheckpointInterval(t *testing.T) {
	st := newMemStorage()
	cfg := testConfig()
	cfg.Storage = &storageID
	cfg.CheckpointInterval = 3 * time.Minute
	h := newHarness(t, cfg, loadPolicy(t), st, t0)
	index := func() int {
		st.mu.Lock()
		defer st.mu.Unlock()
		n := 0
		for k := range st.data {
			if len(k) >= len(indexKey) && k[len(k)-len(indexKey):] == indexKey {
				n++
			}
		}
		return n
	}
	h.sendLogs("acme", 10, 0)
	h.flush()
	h.flush()
	assert.Zero(t, index(), "not yet due")
	h.flush()
	assert.Equal(t, 1, index())
}

func TestStartErrors(t *testing.T) {
	cfg := testConfig()
	f := NewFactory()
	lp, err := f.CreateLogsToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.ErrorContains(t, lp.Start(context.Background(), componenttest.NewNopHost()), `extension "tenantpolicy" is not configured`)
	require.NoError(t, lp.Shutdown(context.Background()))

	cfg.Storage = &storageID
	lp, err = f.CreateLogsToLogs(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(t, err)
	assert.EqualError(t, lp.Start(context.Background(), newHost(loadPolicy(t), nil)),
		`storage: extension "file_storage" is not configured; add it under extensions: and service.extensions`)
	require.NoError(t, lp.Shutdown(context.Background()))
}
