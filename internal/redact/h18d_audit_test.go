package redact

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestAuditFastPathOn fails when pdata's internal layout no longer matches
// the mirrors of h18d_audit.go (a pdata upgrade): redaction is still
// right then, through pdata's API, but writes the audit attributes with
// eight allocations per changed record again. Update the mirrors.
func TestAuditFastPathOn(t *testing.T) {
	require.True(t, pdTypes.ok, "pdata's layout changed: the audit attributes are written through the slow path")
}

// auditLogs is a batch owned by acme of n records, each with some
// attributes and a body that needs redacting; every third record also
// carries an e-mail address, so records hold different class lists and
// attribute counts, and one record already passed a collector.
func auditLogs(n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		a := lr.Attributes()
		for j := range i % 4 {
			a.PutStr(fmt.Sprintf("k%d", j), "plain value")
		}
		body := fmt.Sprintf("call %d for globex.example", i)
		if i%3 == 0 {
			body += " from bob@acme.example"
		}
		if i%5 == 0 {
			a.PutStr("session", "ak_hooli_0001 and aws AKIAIOSFODNN7EXAMPLE")
		}
		if i == 7 {
			s := a.PutEmptySlice(AttrClasses)
			s.AppendEmpty().SetStr("zeta")
		}
		lr.Body().SetStr(body)
	}
	return ld
}

// slowPath runs f with the audit attributes written through pdata's API.
func slowPath(t *testing.T, f func()) {
	t.Helper()
	saved := pdTypes
	pdTypes.ok = false
	defer func() { pdTypes = saved }()
	f()
}

// TestAuditFastPathWritesWhatTheAPIWrites checks that the attributes
// carved from the slabs are what pdata's Put calls write: the same
// attributes, in the same order, with the same types and the same
// encoding, for logs, spans and data points.
func TestAuditFastPathWritesWhatTheAPIWrites(t *testing.T) {
	r := testRedactor(t)
	// Enough records to fill several slabs of each size.
	for _, n := range []int{1, 9, 700} {
		fast, slow := auditLogs(n), auditLogs(n)
		stFast := r.Logs(fast)
		var stSlow Stats
		slowPath(t, func() { stSlow = r.Logs(slow) })
		require.Equal(t, stSlow, stFast)
		require.Equal(t, slow.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().Len(), n)
		for i, lr := range fast.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
			want := slow.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(i).Attributes()
			require.Equal(t, want.AsRaw(), lr.Attributes().AsRaw(), "record %d", i)
			var keys, wantKeys []string
			for k := range lr.Attributes().All() {
				keys = append(keys, k)
			}
			for k := range want.All() {
				wantKeys = append(wantKeys, k)
			}
			require.Equal(t, wantKeys, keys, "record %d", i)
			if i == 7 {
				cls, _ := lr.Attributes().Get(AttrClasses)
				require.Contains(t, cls.Slice().AsRaw(), "zeta", "a second pass adds to the classes")
				require.Greater(t, cls.Slice().Len(), 1, "a second pass adds to the classes")
			}
		}
		var m plog.ProtoMarshaler
		bf, err := m.MarshalLogs(fast)
		require.NoError(t, err)
		bs, err := m.MarshalLogs(slow)
		require.NoError(t, err)
		require.Equal(t, bs, bf)
		var u plog.ProtoUnmarshaler
		back, err := u.UnmarshalLogs(bf)
		require.NoError(t, err)
		cp := plog.NewLogs()
		fast.CopyTo(cp)
		require.Equal(t, cp.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(n-1).Attributes().AsRaw(),
			back.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(n-1).Attributes().AsRaw())
	}

	td, tdSlow := ptrace.NewTraces(), ptrace.NewTraces()
	for _, x := range []ptrace.Traces{td, tdSlow} {
		rs := x.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("tenant.id", "acme")
		for i := range 20 {
			sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			sp.SetName(fmt.Sprintf("GET globex.example/%d", i))
			sp.Attributes().PutStr("peer", "bob@acme.example")
		}
	}
	r.Traces(td)
	slowPath(t, func() { r.Traces(tdSlow) })
	var tm ptrace.ProtoMarshaler
	bf, _ := tm.MarshalTraces(td)
	bs, _ := tm.MarshalTraces(tdSlow)
	require.Equal(t, bs, bf)

	md, mdSlow := pmetric.NewMetrics(), pmetric.NewMetrics()
	for _, x := range []pmetric.Metrics{md, mdSlow} {
		rm := x.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("tenant.id", "acme")
		g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge()
		for i := range 20 {
			g.DataPoints().AppendEmpty().Attributes().PutStr("customer", fmt.Sprintf("globex.example %d", i))
		}
	}
	r.Metrics(md)
	slowPath(t, func() { r.Metrics(mdSlow) })
	var mm pmetric.ProtoMarshaler
	bf, _ = mm.MarshalMetrics(md)
	bs, _ = mm.MarshalMetrics(mdSlow)
	require.Equal(t, bs, bf)
}

// TestAuditRecordsShareNothing checks that each record owns what the slabs
// gave it: changing one record's audit attributes, or adding attributes
// after them, leaves its neighbours as they were.
func TestAuditRecordsShareNothing(t *testing.T) {
	r := testRedactor(t)
	ld := auditLogs(40)
	r.Logs(ld)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	before := make([]map[string]any, lrs.Len())
	for i, lr := range lrs.All() {
		before[i] = lr.Attributes().AsRaw()
	}
	a := lrs.At(10).Attributes()
	a.PutStr("added.after", "x")
	a.PutStr("more", "y")
	cls, _ := a.Get(AttrClasses)
	cls.Slice().At(0).SetStr("changed")
	cls.Slice().AppendEmpty().SetStr("appended")
	a.Remove("k0")
	for i, lr := range lrs.All() {
		if i != 10 {
			require.Equal(t, before[i], lr.Attributes().AsRaw(), "record %d", i)
		}
	}
	got := a.AsRaw()
	require.Equal(t, "x", got["added.after"])
	require.Equal(t, []any{"changed", before[10][AttrClasses].([]any)[1], "appended"}, got[AttrClasses])
}

// TestAuditOnReadOnlyDataPanics keeps what pdata's Put calls do on
// read-only data: panic, not write.
func TestAuditOnReadOnlyDataPanics(t *testing.T) {
	ld := auditLogs(3)
	ld.MarkReadOnly()
	attrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1).Attributes()
	var a auditArena
	require.Panics(t, func() { a.write(attrs, []string{"email"}) })
	require.Equal(t, 1, attrs.Len())
	require.Panics(t, func() { pcommon.NewMap().PutInt("x", 1); attrs.PutInt(AttrCount, 1) })
}

// TestCarvedBodiesAreTheirOwn checks the bodies cut from shared chunks:
// each is what redacting it alone gives, short and long ones, across
// several chunks, and stays so after its neighbours change.
func TestCarvedBodiesAreTheirOwn(t *testing.T) {
	r := testRedactor(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	var want []string
	for i := range 300 {
		body := fmt.Sprintf("order %d for globex.example by bob@acme.example", i)
		if i%50 == 0 {
			body += " " + strings.Repeat(fmt.Sprintf("pad %d ", i), 100) + "globex"
		}
		if i%7 == 0 {
			body = "nothing to redact " + body[:5]
		}
		lrs.AppendEmpty().Body().SetStr(body)
		out, _ := redactFor(r, "acme", body)
		want = append(want, out)
	}
	r.Logs(ld)
	got := func() []string {
		var s []string
		for _, lr := range lrs.All() {
			s = append(s, lr.Body().Str())
		}
		return s
	}
	require.Equal(t, want, got())
	for i, lr := range lrs.All() {
		if i%2 == 0 {
			lr.Body().SetStr("replaced")
			want[i] = "replaced"
		}
	}
	r.Logs(ld)
	require.Equal(t, want, got())
}
