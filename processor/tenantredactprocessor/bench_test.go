package tenantredactprocessor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/redactionprocessor"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

// The shape of the benchmark: batches of 1,000 log records, bodies
// of about 120 characters, 8 string attributes, about 5% of the records
// carrying another tenant's identifier.
const (
	benchBatch   = 1000
	foreignEvery = redactbench.ForeignEvery // 5%
	benchOwner   = 1
)

// benchTenants are the tenant counts measured. BENCH_TENANTS (comma
// separated) narrows them while working on one.
func benchTenants(tb testing.TB) []int {
	ns := []int{10, 100, 1000, 10000}
	if s := os.Getenv("BENCH_TENANTS"); s != "" {
		ns = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			require.NoError(tb, err, "BENCH_TENANTS")
			ns = append(ns, n)
		}
	}
	return ns
}

func tenantName(i int) string { return redactbench.TenantName(i) }

func benchPolicy(tb testing.TB, n int) *policy.Policy { return redactbench.Policy(tb, n) }

// benchLogs is one batch owned by tenant benchOwner (redactbench.Logs):
// one record in foreignEvery carries tenant foreign's identifier; with
// foreign < 0 no record needs a change.
func benchLogs(foreign int) plog.Logs { return redactbench.Logs(benchOwner, foreign, benchBatch) }

// freshCopies makes the next 16 batches to redact with the timer stopped
// and then collects garbage, still stopped. Copying a batch allocates about
// 0.7 MB, ten times what our processor allocates per batch; left to the
// collector, that work lands in whichever timed loop runs next and weighs
// most on the fastest implementation (with GOGC=off ours measured 10-15%
// faster; contrib moved within its noise). The processors' own allocations are still
// counted (B/op, allocs/op); their collection mostly falls in the stopped
// runtime.GC, for every implementation alike.
func freshCopies(b *testing.B, src plog.Logs) []plog.Logs {
	b.StopTimer()
	defer b.StartTimer()
	out := make([]plog.Logs, 16)
	for i := range out {
		out[i] = plog.NewLogs()
		src.CopyTo(out[i])
	}
	runtime.GC()
	return out
}

// readAll is the floor: read every attribute value and body, as any
// redaction must.
func readAll(ld plog.Logs) int {
	n := 0
	var visit func(v pcommon.Value)
	visitMap := func(m pcommon.Map) {
		for k, v := range m.All() {
			n += len(k)
			visit(v)
		}
	}
	visit = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			n += len(v.Str())
		case pcommon.ValueTypeMap:
			visitMap(v.Map())
		case pcommon.ValueTypeSlice:
			for _, e := range v.Slice().All() {
				visit(e)
			}
		}
	}
	for _, rl := range ld.ResourceLogs().All() {
		visitMap(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			visitMap(sl.Scope().Attributes())
			for _, lr := range sl.LogRecords().All() {
				visitMap(lr.Attributes())
				visit(lr.Body())
			}
		}
	}
	return n
}

// The PII regexes a contrib user writes for e-mail addresses and cards.
const (
	contribEmail = `[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`
	contribCard  = `\b(?:\d[ \-]?){12,18}\d\b`
)

func contribProcessor(tb testing.TB, blocked []string) processor.Logs {
	f := redactionprocessor.NewFactory()
	cfg := f.CreateDefaultConfig().(*redactionprocessor.Config)
	cfg.AllowAllKeys = true
	cfg.BlockedValues = blocked
	cfg.Summary = "silent" // no audit attributes: the cheapest contrib setting
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	require.NoError(tb, err)
	require.NoError(tb, p.Start(context.Background(), nil))
	tb.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

func oursProcessor(tb testing.TB, pol *policy.Policy) processor.Logs {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Policy = component.MustNewID("tenantpolicy")
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(tb, err)
	require.NoError(tb, p.Start(context.Background(), newHost(policy.Static{P: pol})))
	tb.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

// perRecord reports the wall time per record of a benchmark over batches
// of benchBatch records.
func perRecord(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/record")
}

// consume is the benchmark loop: p redacts a fresh copy of src per
// iteration. It reports wall and thread CPU time per record: on a shared
// machine the wall time also counts the time other jobs ran.
func consume(b *testing.B, p processor.Logs, src plog.Logs) {
	b.ReportAllocs()
	ctx := context.Background()
	var fresh []plog.Logs
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	for b.Loop() {
		if len(fresh) == 0 {
			fresh = freshCopies(b, src)
		}
		ld := fresh[len(fresh)-1]
		fresh = fresh[:len(fresh)-1]
		t0 := redactbench.ThreadCPU()
		if err := p.ConsumeLogs(ctx, ld); err != nil {
			b.Fatal(err)
		}
		cpu += redactbench.ThreadCPU() - t0
	}
	perRecord(b)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchBatch), "cpu-ns/record")
}

// BenchmarkLogRedaction compares, in one run and on one batch shape, our
// processor (foreign identifiers and every PII and secret class) with
// contrib's redaction processor configured for the same effect (one
// case-insensitive regex per tenant identifier plus e-mail and card
// regexes), contrib with the two PII regexes alone, and a bare pass that
// reads every attribute value and body. Compare with
// benchstat -col /impl. Redaction mutates the batch, so each iteration
// redacts a fresh copy made with the timer stopped.
func BenchmarkLogRedaction(b *testing.B) {
	for _, n := range benchTenants(b) {
		pol := benchPolicy(b, n)
		src := benchLogs(n - 1)
		b.Run(fmt.Sprintf("n=%d/impl=ours", n), func(b *testing.B) {
			consume(b, oursProcessor(b, pol), src)
		})
		b.Run(fmt.Sprintf("n=%d/impl=contrib", n), func(b *testing.B) {
			blocked := make([]string, 0, n+2)
			for i := range n {
				blocked = append(blocked, `(?i)\b`+tenantName(i)+`\b`)
			}
			consume(b, contribProcessor(b, append(blocked, contribEmail, contribCard)), src)
		})
		b.Run(fmt.Sprintf("n=%d/impl=contrib-pii", n), func(b *testing.B) {
			consume(b, contribProcessor(b, []string{contribEmail, contribCard}), src)
		})
		b.Run(fmt.Sprintf("n=%d/impl=bare", n), func(b *testing.B) {
			b.ReportAllocs()
			sink := 0
			for b.Loop() {
				sink += readAll(src)
			}
			perRecord(b)
			_ = sink
		})
	}
}

// dirtyPolicy is the end-to-end benchmark's policy (issue 18): n tenants,
// each with its domain and a key prefix as identifiers, and every tenant
// masking e-mail addresses.
func dirtyPolicy(tb testing.TB, n int) *policy.Policy {
	var y strings.Builder
	y.WriteString("defaults:\n  redaction: {classes: {email: mask}}\ntenants:\n")
	for i := range n {
		fmt.Fprintf(&y, "  %s: {identifiers: [%s.example, \"ak_%s_\"]}\n", tenantName(i), tenantName(i), tenantName(i))
	}
	p, err := policy.Parse("dirty.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

// dirtyLogs is one batch of the end-to-end benchmark's load, records as
// telemetrygen writes them (a body, a severity and one attribute) from
// tenant benchOwner. Dirty: every body names tenant foreign's domain and
// every record carries an e-mail address. Clean: the same shape with
// nothing to redact. The order number and the address vary by record, as
// in real logs, so no cache of a repeated value can stand in for the work.
func dirtyLogs(foreign int, dirty bool) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr(identity.AttrTenantID, tenantName(benchOwner))
	ra.PutStr("service.name", "telemetrygen")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.EnsureCapacity(benchBatch)
	for i := range benchBatch {
		lr := lrs.AppendEmpty()
		lr.SetSeverityText("Info")
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		order := 4411 + i
		if dirty {
			lr.Body().SetStr(fmt.Sprintf("payment retry for a customer of %s.example, order %d failed at checkout", tenantName(foreign), order))
			lr.Attributes().PutStr("customer.email", fmt.Sprintf("jane.doe.%d@example.com", order))
		} else {
			lr.Body().SetStr(fmt.Sprintf("payment retry for a customer of shop.example.org, order %d failed at checkout", order))
			lr.Attributes().PutStr("customer.ref", fmt.Sprintf("ref-%d-0000000000000", order))
		}
	}
	return ld
}

// BenchmarkLogRedactionDirty is the end-to-end benchmark's dirty load
// through the processor alone, beside its clean twin in the same run
// (benchstat -col /load): what a record that needs redacting costs.
func BenchmarkLogRedactionDirty(b *testing.B) {
	for _, n := range []int{10, 10000} {
		pol := dirtyPolicy(b, n)
		for _, load := range []string{"clean", "dirty"} {
			src := dirtyLogs(n/2, load == "dirty")
			b.Run(fmt.Sprintf("n=%d/load=%s", n, load), func(b *testing.B) {
				consume(b, oursProcessor(b, pol), src)
			})
		}
	}
}

// TestBenchBatchRedacts checks the benchmark measures real work: ours
// removes every foreign identifier of the batch and changes only those
// records.
func TestBenchBatchRedacts(t *testing.T) {
	pol := benchPolicy(t, 100)
	r, err := redact.New(pol, redact.Options{})
	require.NoError(t, err)
	ld := benchLogs(99)
	st := r.Logs(ld)
	require.Equal(t, int64(benchBatch/foreignEvery), st.Records[tenantName(benchOwner)], "%v", st.Redactions)
	require.Equal(t, int64(benchBatch/foreignEvery), st.Redactions[redact.StatKey{Tenant: tenantName(benchOwner), Class: redact.ClassForeignTenant}])
	for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		require.NotContains(t, lr.Body().Str(), tenantName(99))
		for _, v := range lr.Attributes().All() {
			require.NotContains(t, v.AsString(), tenantName(99))
		}
	}
}

// TestDirtyBatchRedacts checks the dirty benchmark measures real work:
// every record loses the foreign domain and the address and carries its
// classes, its resource counts them all, and the clean twin changes
// nothing.
func TestDirtyBatchRedacts(t *testing.T) {
	pol := dirtyPolicy(t, 10)
	r, err := redact.New(pol, redact.Options{})
	require.NoError(t, err)
	ld := dirtyLogs(5, true)
	st := r.Logs(ld)
	require.Equal(t, int64(benchBatch), st.Records[tenantName(benchOwner)])
	require.Equal(t, int64(benchBatch), st.Redactions[redact.StatKey{Tenant: tenantName(benchOwner), Class: redact.ClassForeignTenant}])
	require.Equal(t, int64(benchBatch), st.Redactions[redact.StatKey{Tenant: tenantName(benchOwner), Class: "email"}])
	for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		require.NotContains(t, lr.Body().Str(), tenantName(5))
		v, ok := lr.Attributes().Get("customer.email")
		require.True(t, ok)
		require.Equal(t, "<redacted:email>", v.Str())
		cls, ok := lr.Attributes().Get(redact.AttrClasses)
		require.True(t, ok)
		require.Equal(t, []any{"email", redact.ClassForeignTenant}, cls.Slice().AsRaw())
		_, ok = lr.Attributes().Get(redact.AttrCount)
		require.False(t, ok, "the count is the resource's")
	}
	records, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get(redact.AttrRecords)
	require.True(t, ok)
	require.Equal(t, int64(benchBatch), records.Int())
	clean := r.Logs(dirtyLogs(5, false))
	require.Zero(t, clean.Total())
}
