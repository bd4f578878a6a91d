package tenantanomalyconnector

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// benchRoutes is how many streams (http.route values) of the duration
// histogram each resource of benchDurations sends.
const benchRoutes = benchRecords

// benchDurations is a batch of benchResources resources, each with one
// http.server.request.duration histogram of benchRoutes points (one per
// route, the SDK's default bounds), every bucket holding base+j requests.
func benchDurations(nTenants int, temporality pmetric.AggregationTemporality, base uint64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range benchResources {
		rm := md.ResourceMetrics().AppendEmpty()
		benchResource(rm.Resource().Attributes(), i, nTenants)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(durationMetric)
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(temporality)
		for j := range benchRoutes {
			dp := h.DataPoints().AppendEmpty()
			dp.SetStartTimestamp(1)
			dp.Attributes().PutStr("http.route", fmt.Sprintf("/r%d", j))
			dp.ExplicitBounds().FromRaw(durationBounds)
			counts := make([]uint64, len(durationBounds)+1)
			var n uint64
			for b := range counts {
				counts[b] = base + uint64(j)
				n += counts[b]
			}
			dp.BucketCounts().FromRaw(counts)
			dp.SetCount(n)
		}
	}
	return md
}

// BenchmarkMetricValues is the cost of watching a configured metric's
// values: the ingest of a batch of duration histograms with the metric
// configured and without (the baseline: points counted, nothing else), per
// data point; and the retained heap that the configured metric adds for
// tenants that send it, against the same tenants without it, per tenant
// and per added series.
func BenchmarkMetricValues(b *testing.B) {
	const points = benchResources * benchRoutes
	configs := []struct {
		name    string
		metrics []string
	}{{"metrics=none", nil}, {"metrics=duration", []string{durationMetric}}}
	for _, c := range configs {
		for _, temp := range []pmetric.AggregationTemporality{pmetric.AggregationTemporalityDelta, pmetric.AggregationTemporalityCumulative} {
			b.Run(fmt.Sprintf("ingest/%s/%s", c.name, temp), func(b *testing.B) {
				cfg := testConfig()
				cfg.Metrics = c.metrics
				h := newHarness(b, cfg, benchPolicy(b, 10_000), nil, t0)
				// Two batches whose counts rise, so a cumulative stream has
				// new observations at every point after its first.
				batches := []pmetric.Metrics{benchDurations(10_000, temp, 10), benchDurations(10_000, temp, 20)}
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					_ = h.metrics.ConsumeMetrics(context.Background(), batches[i%2])
					i++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
			})
		}
	}
	// What configuring a metric costs the batches that do not hold it.
	for _, c := range configs {
		b.Run(fmt.Sprintf("ingest/%s/other-gauges", c.name), func(b *testing.B) {
			cfg := testConfig()
			cfg.Metrics = c.metrics
			h := newHarness(b, cfg, benchPolicy(b, 10_000), nil, t0)
			md := benchMetrics(10_000)
			b.ReportAllocs()
			for b.Loop() {
				_ = h.metrics.ConsumeMetrics(context.Background(), md)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*points), "ns/point")
		})
	}
	const tenants = 2_000
	pol := benchPolicy(b, tenants)
	heap := func(b *testing.B, metrics []string) (float64, time.Duration) {
		var before, after runtime.MemStats
		var closeTime time.Duration // of the last interval
		runtime.GC()
		runtime.ReadMemStats(&before)
		cfg := testConfig()
		cfg.Metrics = metrics
		h := newHarness(b, cfg, pol, nil, t0)
		for k := range uint64(3) {
			for off := 0; off < tenants; off += benchResources {
				md := benchDurations(tenants, pmetric.AggregationTemporalityCumulative, 10*(k+1))
				retarget(md.ResourceMetrics().Len(), func(i int) pcommon.Map { return md.ResourceMetrics().At(i).Resource().Attributes() }, off)
				require.NoError(b, h.metrics.ConsumeMetrics(context.Background(), md))
			}
			start := time.Now()
			h.flush()
			closeTime = time.Since(start)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if metrics != nil {
			vm := h.monitor().series["tenant-00000"].sig[signalMetrics].acc.metricValues[0]
			require.NotNil(b, vm.det[valueP99])
			require.Len(b, vm.streams, benchRoutes)
		}
		runtime.KeepAlive(h)
		h.shutdown()
		return float64(after.HeapAlloc) - float64(before.HeapAlloc), closeTime
	}
	b.Run(fmt.Sprintf("memory/tenants=%d", tenants), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			without, closeWithout := heap(b, nil)
			with, closeWith := heap(b, []string{durationMetric})
			b.StartTimer()
			b.ReportMetric(float64(closeWithout.Microseconds())/1000, "ms/close-without")
			b.ReportMetric(float64(closeWith.Microseconds())/1000, "ms/close-with")
			b.ReportMetric(without/tenants, "B/tenant-without")
			b.ReportMetric(with/tenants, "B/tenant-with")
			b.ReportMetric((with-without)/tenants, "B/tenant-metric")
			b.ReportMetric((with-without)/tenants/float64(valueFeatureCount), "B/added-series")
		}
	})
}
