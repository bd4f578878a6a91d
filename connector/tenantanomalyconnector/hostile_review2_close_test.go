package tenantanomalyconnector

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// Hostile review of 39e7b39 (the sliced, paced close), 41512ef and
// 5f4bc55 (metric values and service slots): a close in slices of one
// tenant, paced, while every signal's ingest (with configured metrics and
// service slots) goes on, the policy reloads between a smaller and a
// larger tenant set (tenants removed and added mid-close), streams are
// released as a baselines revoke does (a signal's series dropped
// mid-close), and the self-metrics are collected. Run under -race: no
// data race, no panic, every close ends, and records name only policy
// tenants.

type countObserver struct {
	embedded.Float64Observer
	n atomic.Int64
}

func (o *countObserver) Observe(float64, ...metric.ObserveOption) { o.n.Add(1) }

func TestHostileReview2CloseRacesIngestReloadRelease(t *testing.T) {
	small, large := benchPolicy(t, 12), benchPolicy(t, 24)
	prov := policytest.NewSwappable(large)
	cfg := testConfig()
	cfg.Metrics = []string{"req.duration", "queue.depth"}
	cfg.MaxServices = 3
	h := newHarnessOn(t, cfg, policytest.NewHost(prov, nil), t0)
	m := h.monitor()
	m.closeSlice = time.Nanosecond
	rel := &kafkaBaselines{m: m}

	ctx := context.Background()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var ingestErr atomic.Value
	worker := func(seed uint64, f func(r *rand.Rand) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed+1))
			for !stop.Load() {
				if err := f(r); err != nil {
					ingestErr.Store(err)
					return
				}
			}
		}()
	}
	tenant := func(r *rand.Rand) string { return fmt.Sprintf("tenant-%05d", r.IntN(24)) }
	worker(1, func(r *rand.Rand) error {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, tenant(r))
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprint("svc-", r.IntN(6)))
		for range 1 + r.IntN(20) {
			rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
		}
		return h.logs.ConsumeLogs(ctx, ld)
	})
	worker(2, func(r *rand.Rand) error {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(identity.AttrTenantID, tenant(r))
		rs.Resource().Attributes().PutStr("service.name", fmt.Sprint("svc-", r.IntN(6)))
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for range 1 + r.IntN(20) {
			sp := spans.AppendEmpty()
			sp.SetStartTimestamp(1)
			sp.SetEndTimestamp(pcommon.Timestamp(1 + r.IntN(1e9)))
			if r.IntN(10) == 0 {
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		}
		return h.traces.ConsumeTraces(ctx, td)
	})
	worker(3, func(r *rand.Rand) error {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(identity.AttrTenantID, tenant(r))
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		g := ms.AppendEmpty()
		g.SetName("queue.depth")
		g.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(r.NormFloat64() * 10)
		hm := ms.AppendEmpty()
		hm.SetName("req.duration")
		hist := hm.SetEmptyHistogram()
		hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := hist.DataPoints().AppendEmpty()
		dp.Attributes().PutInt("route", int64(r.IntN(80)))
		dp.ExplicitBounds().FromRaw(durationBounds)
		counts := make([]uint64, len(durationBounds)+1)
		var n uint64
		for i := range counts {
			counts[i] = uint64(r.IntN(100))
			n += counts[i]
		}
		dp.BucketCounts().FromRaw(counts)
		dp.SetCount(n)
		dp.SetSum(float64(n) / 10)
		return h.metrics.ConsumeMetrics(ctx, md)
	})
	worker(4, func(r *rand.Rand) error {
		if r.IntN(2) == 0 {
			prov.Store(small)
		} else {
			prov.Store(large)
		}
		time.Sleep(time.Millisecond)
		return nil
	})
	worker(5, func(r *rand.Rand) error {
		sig := []policy.Signal{"logs", "metrics", "traces"}[r.IntN(3)]
		rel.release([]tenantkafka.Stream{{Tenant: tenant(r), Signal: sig}}, r.IntN(2) == 0)
		time.Sleep(time.Millisecond)
		return nil
	})
	obs := &countObserver{}
	worker(6, func(*rand.Rand) error {
		m.observeEach(obs, func(ss *signalSeries, f feature) (float64, bool) { return float64(ss.score[f]), true })
		time.Sleep(time.Millisecond)
		return nil
	})

	for range 25 {
		st := m.closeInterval(ctx, h.clock.Add(time.Minute), 20*time.Millisecond, nil)
		require.Positive(t, st.slices)
	}
	stop.Store(true)
	wg.Wait()
	require.Nil(t, ingestErr.Load())
	for _, lr := range h.anomalies() {
		id := str(lr.Attributes(), AttrTenantID)
		_, ok := large.Tenant(id)
		assert.True(t, ok, "a record for %q", id)
	}
}
