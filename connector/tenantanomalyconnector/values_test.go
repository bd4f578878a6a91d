package tenantanomalyconnector

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/tenancyhq/tenancy/internal/identity"
)

const durationMetric = "http.server.request.duration"

// durationBounds are the SDK's default bounds for http.server.request.duration, in seconds.
var durationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// sendHistogram sends one delta histogram point of the duration metric
// with the given bucket counts, and a gauge nobody configured.
func (h *harness) sendHistogram(tenant string, counts []uint64) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
	rm.Resource().Attributes().PutStr("service.name", "checkout")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	m := ms.AppendEmpty()
	m.SetName(durationMetric)
	hist := m.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := hist.DataPoints().AppendEmpty()
	dp.ExplicitBounds().FromRaw(durationBounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	g := ms.AppendEmpty()
	g.SetName("queue.depth")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(7)
	require.NoError(h.t, h.metrics.ConsumeMetrics(context.Background(), md))
}

// usualLatency is a steady tenant's buckets: most requests between 25 and
// 100 ms, a few up to 250 ms.
func usualLatency(r *rand.Rand) []uint64 {
	c := make([]uint64, len(durationBounds)+1)
	c[2] = 20 + uint64(r.IntN(5))
	c[3] = 50 + uint64(r.IntN(10))
	c[4] = 20 + uint64(r.IntN(5))
	c[5] = 8 + uint64(r.IntN(3))
	c[6] = 2
	return c
}

// A configured metric's values are watched per tenant: acme's requests
// get slow (same number of points, same volume of data) and its record
// names the metric's p99; its records and bytes, and the other tenants,
// stay quiet. The gauge nobody configured gets no series.
func TestMetricValueSpike(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"queue.size", durationMetric}
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	r := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		for _, tn := range allTenants {
			h.sendHistogram(tn, usualLatency(r))
		}
		h.flush()
	}
	require.Empty(t, h.anomalies(), "a steady baseline is not an anomaly")
	acme := h.monitor().series["acme"].sig[signalMetrics]
	require.Len(t, acme.acc.metricValues, 2)
	assert.Nil(t, acme.acc.metricValues[0], "queue.size was never sent")
	require.NotNil(t, acme.acc.metricValues[1])

	slow := usualLatency(r)
	slow[11], slow[4] = 10, slow[4]-10 // 10 requests of 2.5-5 s instead of 50-75 ms: the median stays
	h.sendHistogram("acme", slow)
	h.sendHistogram("initech", usualLatency(r))
	h.flush()

	got := h.anomalies()
	require.Len(t, got, 1)
	a := got[0].Attributes()
	assert.Equal(t, "acme", str(a, AttrTenantID))
	assert.Equal(t, "metrics.value.http.server.request.duration.p99", str(a, AttrFeature))
	observed, _ := a.Get(AttrObserved)
	expected, _ := a.Get(AttrExpected)
	assert.InEpsilon(t, 3.75, observed.Double(), 0.03, "the middle of the 2.5-5 s bucket")
	assert.Less(t, expected.Double(), 0.25, "the baseline's p99 is at most the 0.1-0.25 s bucket's middle")
	assert.Greater(t, expected.Double(), 0.05)
	features, _ := a.Get(AttrFeatures)
	assert.NotContains(t, features.Slice().AsRaw(), "metrics.records")
	assert.NotContains(t, features.Slice().AsRaw(), "metrics.value.http.server.request.duration.points")
}

// newValueMetrics is one resource of tenant acme for addMetricValues.
func newValueMetrics() (pmetric.Metrics, pmetric.MetricSlice) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	return md, rm.ScopeMetrics().AppendEmpty().Metrics()
}

func TestMetricValueKinds(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"temp", "requests", "duration", "exp"}
	var a accumulator
	add := func(md pmetric.Metrics) { a.addMetricValues(md.ResourceMetrics().At(0), cfg) }
	closed := func(i int) [valueFeatureCount]float64 {
		a.closeValues()
		return a.metricValues[i].closed
	}

	// Gauges: their values, int or double.
	md, ms := newValueMetrics()
	pts := ms.AppendEmpty()
	pts.SetName("temp")
	gauge := pts.SetEmptyGauge().DataPoints()
	for i := range 50 {
		gauge.AppendEmpty().SetDoubleValue(float64(2*i + 1))
		gauge.AppendEmpty().SetIntValue(int64(2*i + 2))
	}
	add(md)
	v := closed(0)
	assert.Equal(t, 100.0, v[valuePoints])
	assert.InEpsilon(t, 50, v[valueP50], 0.03)
	assert.InEpsilon(t, 99, v[valueP99], 0.03)
	v = closed(0)
	assert.Equal(t, 0.0, v[valuePoints], "close reset the interval")
	assert.True(t, math.IsNaN(v[valueP50]))

	// A monotonic cumulative sum: increases since the stream's previous
	// point; its first point only counts. A restart (new start time)
	// counts its whole value.
	counter := func(start pcommon.Timestamp, route string, total int64) pmetric.Metrics {
		md, ms := newValueMetrics()
		m := ms.AppendEmpty()
		m.SetName("requests")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetIntValue(total)
		dp.Attributes().PutStr("route", route)
		return md
	}
	add(counter(1, "/a", 1000))
	add(counter(1, "/b", 5000))
	v = closed(1)
	assert.Equal(t, 2.0, v[valuePoints])
	assert.True(t, math.IsNaN(v[valueP50]), "first points only count")
	add(counter(1, "/a", 1010))
	add(counter(1, "/b", 5010))
	add(counter(1, "/a", 1020))
	v = closed(1)
	assert.InEpsilon(t, 10, v[valueP50], 0.03)
	add(counter(2, "/a", 3))
	v = closed(1)
	assert.InEpsilon(t, 3, v[valueP50], 0.03, "restarted")

	// A cumulative histogram: the buckets' increases, at their middles.
	hist := func(counts []uint64, lifeMax float64) pmetric.Metrics {
		md, ms := newValueMetrics()
		m := ms.AppendEmpty()
		m.SetName("duration")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(1)
		dp.ExplicitBounds().FromRaw([]float64{1, 2, 4})
		dp.BucketCounts().FromRaw(counts)
		var n uint64
		for _, c := range counts {
			n += c
		}
		dp.SetCount(n)
		dp.SetMax(lifeMax)
		return md
	}
	add(hist([]uint64{0, 500, 0, 0}, 3))
	v = closed(2)
	assert.True(t, math.IsNaN(v[valueP50]), "first point only counts")
	add(hist([]uint64{0, 510, 90, 0}, 3.5))
	v = closed(2)
	assert.Equal(t, 1.0, v[valuePoints])
	assert.InEpsilon(t, 3, v[valueP50], 0.03, "90 new in (2,4], 10 in (1,2]")
	assert.InEpsilon(t, 3, v[valueP99], 0.03)
	add(hist([]uint64{0, 610, 90, 3}, 100))
	v = closed(2)
	assert.InEpsilon(t, 1.5, v[valueP50], 0.03)
	assert.InEpsilon(t, 4, v[valueP99], 0.03, "the last bucket at its bound: the max is the stream's lifetime's")

	// Exponential histograms count as points only.
	md, ms = newValueMetrics()
	e := ms.AppendEmpty()
	e.SetName("exp")
	e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetCount(4)
	add(md)
	v = closed(3)
	assert.Equal(t, 1.0, v[valuePoints])
	assert.True(t, math.IsNaN(v[valueP99]))
}

// A tenant that sends a configured running total under ever new attribute
// values makes at most maxValueStreams streams; the others count as points
// and as overflow, and idle streams are forgotten.
func TestMetricValueStreamsBounded(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"requests"}
	var a accumulator
	md, ms := newValueMetrics()
	m := ms.AppendEmpty()
	m.SetName("requests")
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i := range 1000 {
		dp := s.DataPoints().AppendEmpty()
		dp.SetIntValue(int64(i))
		dp.Attributes().PutStr("user", fmt.Sprint(i))
	}
	a.addMetricValues(md.ResourceMetrics().At(0), cfg)
	vm := a.metricValues[0]
	assert.Len(t, vm.streams, maxValueStreams)
	assert.EqualValues(t, 1000-maxValueStreams, vm.overflow)
	assert.EqualValues(t, 1000, vm.points)
	for range valueStreamIdle + 1 {
		a.closeValues()
	}
	assert.Empty(t, vm.streams, "idle streams are forgotten")
}

// Without configured metrics the accumulator gets no value state.
func TestNoMetricValuesUnlessConfigured(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	h.sendHistogram("acme", make([]uint64, len(durationBounds)+1))
	assert.Nil(t, h.monitor().series["acme"].sig[signalMetrics].acc.metricValues)
}

// A cumulative histogram with more than maxValueBuckets buckets counts by
// its mean, and its stream keeps no buckets.
func TestMetricValueManyBuckets(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"duration"}
	var a accumulator
	point := func(count uint64, sum float64) {
		md, ms := newValueMetrics()
		m := ms.AppendEmpty()
		m.SetName("duration")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := h.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(1)
		bounds := make([]float64, 10_000)
		for i := range bounds {
			bounds[i] = float64(i + 1)
		}
		dp.ExplicitBounds().FromRaw(bounds)
		counts := make([]uint64, len(bounds)+1)
		counts[0] = count
		dp.BucketCounts().FromRaw(counts)
		dp.SetCount(count)
		dp.SetSum(sum)
		a.addMetricValues(md.ResourceMetrics().At(0), cfg)
	}
	point(100, 1000)
	point(150, 2000) // 50 new, averaging 20
	vm := a.metricValues[0]
	for _, s := range vm.streams {
		assert.Empty(t, s.buckets)
	}
	assert.Empty(t, vm.bucketBounds)
	a.closeValues()
	assert.InEpsilon(t, 20, vm.closed[valueP50], 0.03)
}

// Whatever a tenant sends under a configured name (mismatched bucket
// arrays, counts that go down, NaN and infinite values and bounds, ever
// new attributes), the state stays bounded and the closed values are
// finite or NaN.
func TestMetricValuesHostileInputs(t *testing.T) {
	cfg := testConfig()
	cfg.Metrics = []string{"x"}
	var a accumulator
	r := rand.New(rand.NewPCG(7, 8))
	odd := []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1e308, 1e308, 0, -3, 5e-324}
	num := func() float64 {
		if r.IntN(4) == 0 {
			return odd[r.IntN(len(odd))]
		}
		return r.NormFloat64() * 100
	}
	for range 200 {
		md, ms := newValueMetrics()
		m := ms.AppendEmpty()
		m.SetName("x")
		switch r.IntN(3) {
		case 0:
			m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(num())
		case 1:
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dp := s.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(pcommon.Timestamp(r.IntN(2)))
			dp.SetDoubleValue(num())
			dp.Attributes().PutInt("k", int64(r.IntN(100)))
		case 2:
			h := m.SetEmptyHistogram()
			h.SetAggregationTemporality(pmetric.AggregationTemporality(1 + r.IntN(2)))
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(pcommon.Timestamp(r.IntN(2)))
			dp.Attributes().PutInt("k", int64(r.IntN(100)))
			for range r.IntN(6) {
				dp.ExplicitBounds().Append(num())
			}
			var n uint64
			for range r.IntN(8) {
				c := uint64(r.IntN(1000))
				dp.BucketCounts().Append(c)
				n += c
			}
			dp.SetCount(n)
			dp.SetSum(num())
			if r.IntN(2) == 0 {
				dp.SetMin(num())
				dp.SetMax(num())
			}
		}
		a.addMetricValues(md.ResourceMetrics().At(0), cfg)
		if r.IntN(10) == 0 {
			a.closeValues()
			for _, v := range a.metricValues[0].closed {
				assert.False(t, math.IsInf(v, 0), "closed %v", a.metricValues[0].closed)
			}
		}
	}
	assert.LessOrEqual(t, len(a.metricValues[0].streams), maxValueStreams)
}
