package redact

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// hr4Values are what a record's text may hold: clean, a class, a foreign
// identifier.
var hr4Values = []string{"fine", "all good", "bob@acme.example", "123-45-6789", "ak_globex_1", "see globex.example", "call +1 415 555 0100"}

func hr4Text(rng *rand.Rand) string {
	if rng.IntN(3) == 0 {
		return hr4Values[rng.IntN(len(hr4Values))] + " and " + hr4Values[rng.IntN(len(hr4Values))]
	}
	return hr4Values[rng.IntN(len(hr4Values))]
}

func hr4Attrs(rng *rand.Rand, m pcommon.Map) {
	for i := range rng.IntN(4) {
		m.PutStr(fmt.Sprintf("k%d", i), hr4Text(rng))
	}
}

// hr4Check holds the audit contract on one resource: its records carrying
// classes are what tenant.redaction.records counts, each record's classes
// are among the resource's, and a resource is stamped exactly when it or
// a record changed.
func hr4Check(t *testing.T, res pcommon.Map, recs []pcommon.Map, what string) {
	t.Helper()
	var changed int64
	union := map[string]bool{}
	for _, a := range recs {
		v, ok := a.Get(AttrClasses)
		if !ok {
			continue
		}
		require.Equal(t, pcommon.ValueTypeSlice, v.Type(), what)
		require.Positive(t, v.Slice().Len(), what)
		changed++
		for _, c := range v.Slice().All() {
			union[c.Str()] = true
		}
	}
	n, stamped := res.Get(AttrCount)
	if changed > 0 {
		require.True(t, stamped, "%s: records changed, resource unstamped", what)
	}
	if !stamped {
		return
	}
	require.Positive(t, n.Int(), what)
	r, ok := res.Get(AttrRecords)
	require.True(t, ok, what)
	require.Equal(t, changed, r.Int(), "%s: tenant.redaction.records against the records carrying classes", what)
	require.GreaterOrEqual(t, n.Int(), changed, what)
	cs, ok := res.Get(AttrClasses)
	require.True(t, ok, what)
	var have []string
	for _, c := range cs.Slice().All() {
		have = append(have, c.Str())
	}
	require.True(t, slices.IsSorted(have), "%s: %v", what, have)
	for c := range union {
		require.Contains(t, have, c, what)
	}
	_, ok = res.Get(AttrPolicyVersion)
	require.True(t, ok, what)
}

// TestHostileReview4AuditInvariantsOverPasses: random batches of logs,
// spans and data points (tenants, their own and foreign identifiers, in
// bodies, attributes, names, events, the resource and scopes), redacted
// once, twice and three times (a second and third collector with no
// tenant processor between them), on the fast path and through pdata's
// API, hold the audit contract after every pass.
func TestHostileReview4AuditInvariantsOverPasses(t *testing.T) {
	r := testRedactor(t)
	tenants := []string{"acme", "globex", "nobody"}
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 4))
		fast := seed%2 == 0
		run := func(f func()) {
			if fast {
				f()
			} else {
				slowPath(t, f)
			}
		}
		ld, td, md := plog.NewLogs(), ptrace.NewTraces(), pmetric.NewMetrics()
		for range 1 + rng.IntN(3) {
			tn := tenants[rng.IntN(len(tenants))]
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
			hr4Attrs(rng, rl.Resource().Attributes())
			for range 1 + rng.IntN(2) {
				sl := rl.ScopeLogs().AppendEmpty()
				sl.Scope().SetName(hr4Text(rng))
				for range rng.IntN(5) {
					lr := sl.LogRecords().AppendEmpty()
					lr.Body().SetStr(hr4Text(rng))
					hr4Attrs(rng, lr.Attributes())
				}
			}
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
			ss := rs.ScopeSpans().AppendEmpty()
			for range rng.IntN(5) {
				sp := ss.Spans().AppendEmpty()
				sp.SetName(hr4Text(rng))
				hr4Attrs(rng, sp.Attributes())
				if rng.IntN(2) == 0 {
					ev := sp.Events().AppendEmpty()
					ev.SetName(hr4Text(rng))
					hr4Attrs(rng, ev.Attributes())
				}
			}
			rm := md.ResourceMetrics().AppendEmpty()
			rm.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
			sm := rm.ScopeMetrics().AppendEmpty()
			for range rng.IntN(4) {
				m := sm.Metrics().AppendEmpty()
				m.SetName(hr4Text(rng))
				g := m.SetEmptyGauge()
				for range rng.IntN(3) {
					hr4Attrs(rng, g.DataPoints().AppendEmpty().Attributes())
				}
			}
		}
		for pass := range 3 {
			run(func() { r.Logs(ld); r.Traces(td); r.Metrics(md) })
			for i, rl := range ld.ResourceLogs().All() {
				var recs []pcommon.Map
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						recs = append(recs, lr.Attributes())
					}
				}
				hr4Check(t, rl.Resource().Attributes(), recs, fmt.Sprintf("seed %d pass %d logs resource %d", seed, pass, i))
			}
			for i, rs := range td.ResourceSpans().All() {
				var recs []pcommon.Map
				for _, sp := range rs.ScopeSpans().At(0).Spans().All() {
					recs = append(recs, sp.Attributes())
				}
				hr4Check(t, rs.Resource().Attributes(), recs, fmt.Sprintf("seed %d pass %d spans resource %d", seed, pass, i))
			}
			for i, rm := range md.ResourceMetrics().All() {
				var recs []pcommon.Map
				for _, m := range rm.ScopeMetrics().At(0).Metrics().All() {
					for _, dp := range m.Gauge().DataPoints().All() {
						recs = append(recs, dp.Attributes())
					}
				}
				hr4Check(t, rm.Resource().Attributes(), recs, fmt.Sprintf("seed %d pass %d metrics resource %d", seed, pass, i))
			}
			// Between passes, new findings appear in some records, as a
			// second collector's policy would find.
			for _, rl := range ld.ResourceLogs().All() {
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						if rng.IntN(3) == 0 {
							lr.Attributes().PutStr(fmt.Sprintf("p%d", pass), hr4Text(rng))
						}
					}
				}
			}
		}
	}
}

// TestHostileReview4SlabRecordsAreTheirOwn: records whose audit
// attributes were carved from one slab are changed afterwards by a later
// component (a value set, a class renamed, a class appended, an attribute
// removed and two put), and no other record of the slab sees it.
func TestHostileReview4SlabRecordsAreTheirOwn(t *testing.T) {
	require.True(t, pdTypes.ok)
	r := testRedactor(t)
	ld := hr3DirtyLogs(40, 2)
	r.Logs(ld)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	want := make([]map[string]any, lrs.Len())
	for i := range lrs.Len() {
		want[i] = lrs.At(i).Attributes().AsRaw()
		_, ok := lrs.At(i).Attributes().Get(AttrClasses)
		require.True(t, ok)
	}
	for i := 0; i < lrs.Len(); i += 3 {
		a := lrs.At(i).Attributes()
		v, _ := a.Get("k0")
		v.SetStr("changed")
		cs, _ := a.Get(AttrClasses)
		cs.Slice().At(0).SetStr("renamed")
		cs.Slice().AppendEmpty().SetStr("appended")
		a.Remove("k1")
		a.PutStr("x", "y")
		a.PutStr("z", "w")
		a.PutInt("n", 7)
		want[i] = a.AsRaw()
	}
	for i := range lrs.Len() {
		require.Equal(t, want[i], lrs.At(i).Attributes().AsRaw(), "record %d", i)
	}
}

// TestHostileReview4ForgedClassesDoNotHideARecord: a record reaching the
// redactor with a tenant.redaction.classes no redactor wrote (a string, an
// empty list: a pipeline without the tenant processor before it, whose
// strip is the only thing between a client and this key) is not a record
// an earlier pass counted. Once this pass changes it, it carries a class
// list and its resource's tenant.redaction.records counts it; before, the
// forged value made it look counted already, so a record stood changed and
// uncounted (records 0 on a resource of one changed record), on the fast
// path and through pdata's API alike.
func TestHostileReview4ForgedClassesDoNotHideARecord(t *testing.T) {
	r := testRedactor(t)
	forge := map[string]func(pcommon.Map){
		"string":     func(m pcommon.Map) { m.PutStr(AttrClasses, "email") },
		"empty list": func(m pcommon.Map) { m.PutEmptySlice(AttrClasses) },
		"int":        func(m pcommon.Map) { m.PutInt(AttrClasses, 3) },
	}
	for name, f := range forge {
		for _, fast := range []bool{true, false} {
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			f(lr.Attributes())
			lr.Body().SetStr("mail bob@acme.example")
			if fast {
				r.Logs(ld)
			} else {
				slowPath(t, func() { r.Logs(ld) })
			}
			what := fmt.Sprintf("%s, fast %v", name, fast)
			n := 0
			for k := range lr.Attributes().All() {
				if k == AttrClasses {
					n++
				}
			}
			require.Equal(t, 1, n, "%s: one class list", what)
			hr4Check(t, rl.Resource().Attributes(), []pcommon.Map{lr.Attributes()}, what)
		}
	}
}
