package tenantanomalyconnector

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// BenchmarkServices is the cost of the per-service series: the ingest of
// the traces batch with max_services 8 and without (the baseline), per
// span; and the retained heap of tenants that each send 5 services with
// their own series, against the same tenants without, per tenant and per
// service slot.
func BenchmarkServices(b *testing.B) {
	const spans = benchResources * benchRecords
	for _, maxServices := range []int{0, 8} {
		b.Run(fmt.Sprintf("ingest/max_services=%d", maxServices), func(b *testing.B) {
			cfg := testConfig()
			cfg.MaxServices = maxServices
			h := newHarness(b, cfg, benchPolicy(b, 10_000), nil, t0)
			td := benchTraces(10_000)
			b.ReportAllocs()
			for b.Loop() {
				_ = h.traces.ConsumeTraces(context.Background(), td)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
		})
	}
	const tenants, services = 2_000, 5
	pol := benchPolicy(b, tenants)
	heap := func(b *testing.B, maxServices int) (float64, time.Duration) {
		var before, after runtime.MemStats
		var closeTime time.Duration // of the last interval
		runtime.GC()
		runtime.ReadMemStats(&before)
		cfg := testConfig()
		cfg.MaxServices = maxServices
		h := newHarness(b, cfg, pol, nil, t0)
		for range 2 {
			for k := range services {
				for off := 0; off < tenants; off += benchResources {
					td := benchTraces(tenants)
					for i := range td.ResourceSpans().Len() {
						td.ResourceSpans().At(i).Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", k))
					}
					retarget(td.ResourceSpans().Len(), func(i int) pcommon.Map { return td.ResourceSpans().At(i).Resource().Attributes() }, off)
					require.NoError(b, h.traces.ConsumeTraces(context.Background(), td))
				}
			}
			start := time.Now()
			h.flush()
			closeTime = time.Since(start)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if maxServices > 0 {
			ps := h.monitor().series["tenant-00000"].sig[signalTraces].acc.perService
			require.Len(b, ps.slots, services)
			require.NotNil(b, ps.slots[0].det[serviceLatencyP99])
		}
		runtime.KeepAlive(h)
		h.shutdown()
		return float64(after.HeapAlloc) - float64(before.HeapAlloc), closeTime
	}
	b.Run(fmt.Sprintf("memory/tenants=%d/services=%d", tenants, services), func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			without, closeWithout := heap(b, 0)
			with, closeWith := heap(b, 8)
			b.StartTimer()
			b.ReportMetric(float64(closeWithout.Microseconds())/1000, "ms/close-without")
			b.ReportMetric(float64(closeWith.Microseconds())/1000, "ms/close-with")
			b.ReportMetric(without/tenants, "B/tenant-without")
			b.ReportMetric(with/tenants, "B/tenant-with")
			b.ReportMetric((with-without)/tenants/services, "B/service")
			b.ReportMetric((with-without)/tenants/services/float64(serviceFeatureCount), "B/added-series")
		}
	})
}
