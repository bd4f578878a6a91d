package tenantanomalyconnector

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// feedAll sends every one of n tenants all three signals, each batch of
// 100 tenants repeat times (repeat(batch) >= 1), so the series vary from
// one interval to the next as real ones do.
func feedAll(b testing.TB, h *harness, n int, repeat func(batch int) int) {
	ld, td, md := benchLogs(n), benchTraces(n), benchMetrics(n)
	for off := 0; off < n; off += benchResources {
		retarget(ld.ResourceLogs().Len(), func(i int) pcommon.Map { return ld.ResourceLogs().At(i).Resource().Attributes() }, off)
		retarget(td.ResourceSpans().Len(), func(i int) pcommon.Map { return td.ResourceSpans().At(i).Resource().Attributes() }, off)
		retarget(md.ResourceMetrics().Len(), func(i int) pcommon.Map { return md.ResourceMetrics().At(i).Resource().Attributes() }, off)
		for range repeat(off / benchResources) {
			require.NoError(b, h.logs.ConsumeLogs(context.Background(), ld))
			require.NoError(b, h.traces.ConsumeTraces(context.Background(), td))
			require.NoError(b, h.metrics.ConsumeMetrics(context.Background(), md))
		}
	}
}

// ingestDuring sends batches from one goroutine per batch, over and over,
// while run runs, and returns the longest a single ConsumeLogs took.
func ingestDuring(h *harness, batches []plog.Logs, run func()) time.Duration {
	done := make(chan struct{})
	worst := make(chan time.Duration)
	for _, ld := range batches {
		go func() {
			var w time.Duration
			for {
				select {
				case <-done:
					worst <- w
					return
				default:
				}
				start := time.Now()
				_ = h.logs.ConsumeLogs(context.Background(), ld)
				w = max(w, time.Since(start))
			}
		}()
	}
	run()
	close(done)
	var w time.Duration
	for range batches {
		w = max(w, <-worst)
	}
	return w
}

// BenchmarkIntervalClose closes intervals of 10,000 tenants that send every
// signal (19 detectors each), past probation, while ingest goroutines send
// logs: in one pass under the flush lock, as before slicing (whole), in
// slices of closeSlice back to back (sliced), and in slices paced over a
// second (paced, as the ticker runs it with a minute's interval). Per
// close it takes the wall time, the work (the slices' sum), the longest
// slice and the longest ingest batch, and for scale the longest ingest
// batch over as long a time without a close; it reports the median over
// the closes of each (the machine is shared, and one close's worst is
// mostly the scheduler's and the GC's).
func BenchmarkIntervalClose(b *testing.B) {
	const n = 10_000
	cfg := testConfig()
	h := newHarness(b, cfg, benchPolicy(b, n), nil, t0)
	m := h.monitor()
	interval := 0
	// Each batch of tenants sends once, twice or three times an interval.
	repeat := func(batch int) int { return 1 + (batch*7+interval*13)%3 }
	// The first interval is partial; then probation and past it.
	for interval = 0; interval < cfg.Probation+10; interval++ {
		feedAll(b, h, n, repeat)
		h.flush()
	}
	for _, ingesters := range []int{1, runtime.GOMAXPROCS(0)} {
		batches := make([]plog.Logs, ingesters)
		for i := range batches {
			batches[i] = benchLogs(n)
		}
		for _, mode := range []struct {
			name          string
			slice, spread time.Duration
		}{
			{"whole", time.Hour, 0},
			{"sliced", closeSlice, 0},
			{"paced", closeSlice, time.Second},
		} {
			b.Run(fmt.Sprintf("tenants=%d/ingesters=%d/%s", n, ingesters, mode.name), func(b *testing.B) {
				m.closeSlice = mode.slice
				defer func() { m.closeSlice = closeSlice }()
				var wall, work, slice, stall, idle []time.Duration
				for b.Loop() {
					b.StopTimer()
					interval++
					feedAll(b, h, n, repeat)
					idle = append(idle, ingestDuring(h, batches, func() { time.Sleep(max(mode.spread, 100*time.Millisecond)) }))
					b.StartTimer()
					stall = append(stall, ingestDuring(h, batches, func() {
						start := time.Now()
						st := m.closeInterval(context.Background(), h.clock.Add(cfg.Interval), mode.spread, nil)
						wall = append(wall, time.Since(start))
						work, slice = append(work, st.work), append(slice, st.longest)
					}))
				}
				median := func(ds []time.Duration) float64 {
					slices.Sort(ds)
					return float64(ds[len(ds)/2].Microseconds()) / 1000
				}
				b.ReportMetric(median(wall), "ms/close")
				b.ReportMetric(median(work), "ms/close-work")
				b.ReportMetric(median(slice), "ms/max-slice")
				b.ReportMetric(median(stall), "ms/max-ingest-stall")
				b.ReportMetric(median(idle), "ms/max-ingest-idle")
			})
		}
	}
}
