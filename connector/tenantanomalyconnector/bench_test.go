package tenantanomalyconnector

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Batch shape of the benchmarks: resources per batch, records per resource.
const (
	benchResources = 100
	benchRecords   = 10
)

func benchPolicy(b testing.TB, n int) *policy.Policy {
	var sb strings.Builder
	sb.WriteString("tenants:\n")
	for i := range n {
		fmt.Fprintf(&sb, "  tenant-%05d: {identifiers: [\"ident-%05d\"]}\n", i, i)
	}
	p, err := policy.Parse("bench.yaml", []byte(sb.String()))
	require.NoError(b, err)
	return p
}

func benchResource(a pcommon.Map, i, nTenants int) {
	// A typical Kubernetes resource, as the tenant processor leaves it.
	a.PutStr("service.name", fmt.Sprintf("svc-%d", i%5))
	a.PutStr("service.version", "1.4.2")
	a.PutStr("service.instance.id", fmt.Sprintf("checkout-%d", i))
	a.PutStr("host.name", "node-1")
	a.PutStr("k8s.namespace.name", "shop")
	a.PutStr("k8s.pod.name", fmt.Sprintf("checkout-7d9f-%d", i))
	a.PutStr("cloud.region", "eu-west-1")
	a.PutStr(identity.AttrTenantID, fmt.Sprintf("tenant-%05d", (i*7919)%nTenants))
	a.PutStr(identity.AttrFingerprint, "00112233445566778899aabbccddeeff")
}

func benchLogs(nTenants int) plog.Logs {
	ld := plog.NewLogs()
	for i := range benchResources {
		rl := ld.ResourceLogs().AppendEmpty()
		benchResource(rl.Resource().Attributes(), i, nTenants)
		sl := rl.ScopeLogs().AppendEmpty()
		for j := range benchRecords {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.Body().SetStr("order placed")
			lr.Attributes().PutStr("order.id", fmt.Sprintf("o-%d", j))
		}
	}
	return ld
}

func benchTraces(nTenants int) ptrace.Traces {
	td := ptrace.NewTraces()
	for i := range benchResources {
		rs := td.ResourceSpans().AppendEmpty()
		benchResource(rs.Resource().Attributes(), i, nTenants)
		ss := rs.ScopeSpans().AppendEmpty()
		for j := range benchRecords {
			sp := ss.Spans().AppendEmpty()
			sp.SetName("GET /orders")
			sp.SetStartTimestamp(1_000_000)
			sp.SetEndTimestamp(1_000_000 + pcommon.Timestamp((j+1)*3_000_000))
			sp.Attributes().PutStr("http.route", "/orders")
		}
	}
	return td
}

func benchMetrics(nTenants int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range benchResources {
		rm := md.ResourceMetrics().AppendEmpty()
		benchResource(rm.Resource().Attributes(), i, nTenants)
		dps := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints()
		for j := range benchRecords {
			dps.AppendEmpty().SetIntValue(int64(j))
		}
	}
	return md
}

// barePass reads each resource's tenant.id and counts its records: the
// floor any per-tenant component pays.
func barePass(_ context.Context, ld plog.Logs) error {
	n := 0
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		if _, ok := rl.Resource().Attributes().Get(identity.AttrTenantID); ok {
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				n += rl.ScopeLogs().At(j).LogRecords().Len()
			}
		}
	}
	_ = n
	return nil
}

func BenchmarkConnector(b *testing.B) {
	const records = benchResources * benchRecords
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
	}
	b.Run("bare_pass/logs", func(b *testing.B) {
		ld := benchLogs(10)
		b.ReportAllocs()
		for b.Loop() {
			_ = barePass(context.Background(), ld)
		}
		perRecord(b)
	})
	for _, n := range []int{10, 10_000} {
		h := newHarness(b, testConfig(), benchPolicy(b, n), nil, t0)
		b.Run(fmt.Sprintf("tenantanomaly/logs/tenants=%d", n), func(b *testing.B) {
			ld := benchLogs(n)
			b.ReportAllocs()
			for b.Loop() {
				_ = h.logs.ConsumeLogs(context.Background(), ld)
			}
			perRecord(b)
		})
		b.Run(fmt.Sprintf("tenantanomaly/traces/tenants=%d", n), func(b *testing.B) {
			td := benchTraces(n)
			b.ReportAllocs()
			for b.Loop() {
				_ = h.traces.ConsumeTraces(context.Background(), td)
			}
			perRecord(b)
		})
		b.Run(fmt.Sprintf("tenantanomaly/metrics/tenants=%d", n), func(b *testing.B) {
			md := benchMetrics(n)
			b.ReportAllocs()
			for b.Loop() {
				_ = h.metrics.ConsumeMetrics(context.Background(), md)
			}
			perRecord(b)
		})
	}
}

// BenchmarkMemory10kTenants measures the retained heap of 10,000 tenants
// that each send every signal (all 19 features have a detector), through the
// connector's own structures, and the time of the first flush over them
// (which creates the detectors) and of the next one.
func BenchmarkMemory10kTenants(b *testing.B) {
	const n = 10_000
	pol := benchPolicy(b, n)
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		h := newHarness(b, testConfig(), pol, nil, t0)
		feed := func() {
			// Every tenant appears in one of these batches.
			for off := 0; off < n; off += benchResources {
				ld, td, md := benchLogs(n), benchTraces(n), benchMetrics(n)
				retarget(ld.ResourceLogs().Len(), func(i int) pcommon.Map { return ld.ResourceLogs().At(i).Resource().Attributes() }, off)
				retarget(td.ResourceSpans().Len(), func(i int) pcommon.Map { return td.ResourceSpans().At(i).Resource().Attributes() }, off)
				retarget(md.ResourceMetrics().Len(), func(i int) pcommon.Map { return md.ResourceMetrics().At(i).Resource().Attributes() }, off)
				require.NoError(b, h.logs.ConsumeLogs(context.Background(), ld))
				require.NoError(b, h.traces.ConsumeTraces(context.Background(), td))
				require.NoError(b, h.metrics.ConsumeMetrics(context.Background(), md))
			}
		}
		feed()
		// The first close also creates every detector; the second is the
		// steady state of every later interval.
		b.StartTimer()
		start := time.Now()
		h.flush()
		firstFlush := time.Since(start)
		b.StopTimer()
		feed()
		b.StartTimer()
		start = time.Now()
		h.flush()
		flushTime := time.Since(start)
		b.StopTimer()
		// A close takes each tenant's lock only for that tenant's own
		// updates, so ingestion never waits for the whole close: the
		// slowest batch taken while one runs bounds the stall it causes
		// (with the scheduler's and the GC's pauses on a busy box in it).
		feed()
		// The open interval's accumulators hold a whole interval's
		// records here; a close empties them but keeps their memory.
		// Retained is the larger of the two.
		var open runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&open)
		stall := ingestStall(h, benchLogs(n), h.flush)
		runtime.GC()
		runtime.ReadMemStats(&after)
		m := h.monitor()
		start = time.Now()
		for _, t := range m.series {
			_, err := t.marshal()
			require.NoError(b, err)
		}
		encode := time.Since(start)
		detectors := 0
		for _, t := range m.series {
			for s := range signalCount {
				if t.sig[s] != nil {
					for _, d := range t.sig[s].det {
						if d != nil {
							detectors++
						}
					}
				}
			}
		}
		require.Equal(b, n*(len(signalFeatures[signalLogs])+len(signalFeatures[signalMetrics])+len(signalFeatures[signalTraces])), detectors)
		heap := float64(max(open.HeapAlloc, after.HeapAlloc)) - float64(before.HeapAlloc)
		b.ReportMetric(heap/(1<<20), "MiB")
		b.ReportMetric((float64(open.HeapAlloc)-float64(before.HeapAlloc))/(1<<20), "MiB-open-interval")
		b.ReportMetric(heap/float64(n), "B/tenant")
		b.ReportMetric(heap/float64(detectors), "B/series")
		b.ReportMetric(float64(anomaly.StateSize), "B/detector-state")
		b.ReportMetric(float64(firstFlush.Milliseconds()), "ms/first-flush")
		b.ReportMetric(float64(flushTime.Milliseconds()), "ms/flush")
		b.ReportMetric(float64(stall.Microseconds())/1000, "ms/max-ingest-stall")
		b.ReportMetric(float64(encode.Milliseconds()), "ms/checkpoint-encode")
		runtime.KeepAlive(h)
		h.shutdown()
		b.StartTimer()
	}
}

// ingestStall sends ld over and over while close runs and returns the
// longest a single ConsumeLogs took.
func ingestStall(h *harness, ld plog.Logs, close func()) time.Duration {
	stop, done := make(chan struct{}), make(chan time.Duration)
	go func() {
		var worst time.Duration
		for {
			select {
			case <-stop:
				done <- worst
				return
			default:
			}
			start := time.Now()
			_ = h.logs.ConsumeLogs(context.Background(), ld)
			worst = max(worst, time.Since(start))
		}
	}()
	close()
	stop <- struct{}{}
	return <-done
}

// retarget points the batch's resources at tenants off..off+len-1.
func retarget(n int, attrs func(int) pcommon.Map, off int) {
	for i := range n {
		attrs(i).PutStr(identity.AttrTenantID, fmt.Sprintf("tenant-%05d", off+i))
	}
}
