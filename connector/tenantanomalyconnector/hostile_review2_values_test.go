package tenantanomalyconnector

import (
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Hostile review of 41512ef..8c98d8c: the most one tenant can make the
// connector keep for its metric values, whatever it sends.

// hostileValues sends, for every configured metric, cumulative histograms
// of maxValueStreams+10 streams with maxValueBuckets buckets (the most a
// stream keeps), twice so every stream holds its buckets, and gauges
// spread over both signs and 600 orders of magnitude (every bin of both
// sketch stores).
func hostileValues(a *accumulator, cfg *Config, round int) {
	bounds := make([]float64, maxValueBuckets-1)
	for i := range bounds {
		bounds[i] = float64(i + 1)
	}
	for _, name := range cfg.Metrics {
		md, ms := newValueMetrics()
		m := ms.AppendEmpty()
		m.SetName(name)
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for s := range maxValueStreams + 10 {
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(1)
			dp.Attributes().PutStr("stream", fmt.Sprint(s))
			dp.ExplicitBounds().FromRaw(bounds)
			counts := make([]uint64, maxValueBuckets)
			for b := range counts {
				counts[b] = uint64(round * (b + 1))
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(uint64(round * maxValueBuckets * (maxValueBuckets + 1) / 2))
		}
		g := ms.AppendEmpty()
		g.SetName(name)
		dps := g.SetEmptyGauge().DataPoints()
		for e := -300; e <= 300; e++ {
			dps.AppendEmpty().SetDoubleValue(math.Pow(10, float64(e)))
			dps.AppendEmpty().SetDoubleValue(-math.Pow(10, float64(e)))
		}
		a.addMetricValues(md.ResourceMetrics().At(0), cfg)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestHostileReview2ValuesMemoryBound: a tenant that sends the worst it
// can under each of the 16 configured metrics makes the connector keep at
// most about 80 KB per metric (64 streams of 128 buckets, 1 KiB each, and
// a sketch whose positive and negative stores hold 512 bins each), not
// more; it logs the measured figure.
func TestHostileReview2ValuesMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	cfg := testConfig()
	for i := range maxValueMetrics {
		cfg.Metrics = append(cfg.Metrics, fmt.Sprint("m", i))
	}
	const tenants = 8
	accs := make([]accumulator, tenants)
	before := heapInUse()
	for i := range accs {
		hostileValues(&accs[i], cfg, 1)
		hostileValues(&accs[i], cfg, 2)
	}
	after := heapInUse()
	perMetric := float64(after-before) / tenants / maxValueMetrics
	t.Logf("retained per tenant and configured metric, hostile: %.0f B (%d tenants x %d metrics)", perMetric, tenants, maxValueMetrics)
	for i := range accs {
		for _, vm := range accs[i].metricValues {
			require.Len(t, vm.streams, maxValueStreams)
			for _, s := range vm.streams {
				require.Len(t, s.buckets, maxValueBuckets)
			}
			assert.LessOrEqual(t, len(vm.bucketIdx), maxValueBuckets)
		}
	}
	assert.Less(t, perMetric, 100_000.0)
	runtime.KeepAlive(accs)
}

// TestHostileReview2SketchBothSigns: a metric's value sketch keeps at most
// valueMaxBins bins per sign, so values of both signs retain about twice
// what one sign (a service's latencies) can: it logs both.
func TestHostileReview2SketchBothSigns(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	const n = 64
	retained := func(signs []float64) float64 {
		vms := make([]valueMetric, n)
		before := heapInUse()
		for i := range vms {
			for e := -300; e <= 300; e++ {
				for _, sign := range signs {
					vms[i].add(sign*math.Pow(10, float64(e)), 1)
				}
			}
		}
		after := heapInUse()
		runtime.KeepAlive(vms)
		return float64(after-before) / n
	}
	one, both := retained([]float64{1}), retained([]float64{1, -1})
	t.Logf("retained per sketch: one sign %.0f B, both signs %.0f B", one, both)
	assert.Less(t, both, 2.5*float64(8*valueMaxBins))
}

// TestHostileReview2ExtremeClosedValues: the closed values a tenant can
// make a metric's detectors see (the sketch's extremes, both signs, the
// smallest subnormal, counts near 2^63) score in [0,1], never NaN, nor do
// the ordinary values after them. (They do blind the detector: its state
// is float32, so a value past ±3.4e38 makes its range infinite and, in
// probation, its expected value NaN for good; see the review's report.)
func TestHostileReview2ExtremeClosedValues(t *testing.T) {
	cfg := testConfig()
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	m := h.monitor()
	var vm valueMetric
	extremes := []float64{1.7e308, -1.7e308, 5e-324, -5e-324, 0, 9.2e18, math.MaxFloat64, -math.MaxFloat64, 1e-300}
	end := t0
	for i := range 400 {
		var v float64
		if i < 200 {
			v = extremes[i%len(extremes)]
		} else {
			v = 100 + float64(i%7)
		}
		end = end.Add(time.Minute)
		d := m.valueDetector(&vm.det[valueP99], 0.9)
		score := d.Update(end, v)
		require.False(t, math.IsNaN(score), "i=%d v=%g", i, v)
		require.GreaterOrEqual(t, score, 0.0)
		require.LessOrEqual(t, score, 1.0)
	}
}
