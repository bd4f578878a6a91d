package redact

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

type propTenant struct {
	id     string
	idents []string // as declared
}

// randWord is lower-case letters with one digit, so it cannot occur inside
// the masks or the filler words.
func randWord(rng *rand.Rand) string {
	n := 5 + rng.IntN(6)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	b[1+rng.IntN(n-2)] = byte('0' + rng.IntN(10))
	return string(b)
}

func randPolicy(t *testing.T, rng *rand.Rand) ([]propTenant, *policy.Policy) {
	n := 2 + rng.IntN(6)
	var ts []propTenant
	var y strings.Builder
	y.WriteString("tenants:\n")
	for range n {
		w := randWord(rng)
		pt := propTenant{id: "t" + w, idents: []string{w, w + ".example", "ak_" + w + "_", "CN-" + w[:4] + "-"}}
		ts = append(ts, pt)
		fmt.Fprintf(&y, "  %s:\n    identifiers: [%q, %q, %q, %q]\n", pt.id, pt.idents[0], pt.idents[1], pt.idents[2], pt.idents[3])
	}
	p, err := policy.Parse("prop.yaml", []byte(y.String()))
	require.NoError(t, err, y.String())
	return ts, p
}

// foreignForm writes identifier set idents in one of the forms logs carry it.
func foreignForm(rng *rand.Rand, idents []string) string {
	w, dom, key, cn := idents[0], idents[1], idents[2], idents[3]
	forms := []func() string{
		func() string { return w },
		func() string { return strings.ToUpper(w) },
		func() string { return "bob@" + dom },
		func() string { return "Bob.Smith+tag@MAIL." + strings.ToUpper(dom) },
		func() string { return "https://api." + dom + ":8443/v1/x?y=1" },
		func() string { return key + "9f8e7d6c5b4a" },
		func() string { return strings.ToUpper(key) + "XYZ123" },
		func() string { return cn + "123456" },
		func() string { return url.QueryEscape("bob@" + dom) },
		func() string { return "next=" + url.QueryEscape("https://"+dom+"/a") },
		func() string { return pctAll(w) },
		func() string { return `{"to":"bob\u0040` + dom + `"}` },
		func() string { return `https:\/\/` + dom + `\/x` },
		func() string { return jsonAll(w) },
		func() string { return url.QueryEscape(`{"u":"x\/` + dom + `"}`) },
		func() string { return w + "-prod" },
		func() string { return "svc_" + w },
	}
	return forms[rng.IntN(len(forms))]()
}

func pctAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func jsonAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

var filler = []string{"user", "paid", "GET", "/v1/items", "ok", "status=200", "took 12ms", "retry", "hooligan", "x-request-id=42"}

// text mixes filler, own identifiers (plain) and foreign ones (any form).
func text(rng *rand.Rand, own []string, foreign [][]string) string {
	var parts []string
	for range 1 + rng.IntN(5) {
		switch rng.IntN(3) {
		case 0:
			parts = append(parts, filler[rng.IntN(len(filler))])
		case 1:
			if len(own) > 0 {
				parts = append(parts, own[rng.IntN(len(own))])
			}
		case 2:
			if len(foreign) > 0 {
				parts = append(parts, foreignForm(rng, foreign[rng.IntN(len(foreign))]))
			}
		}
	}
	return strings.Join(parts, " ")
}

// fill puts random attributes, nested maps, slices and foreign keys in m.
func fill(rng *rand.Rand, m pcommon.Map, own []string, foreign [][]string, depth int) {
	for i := range 1 + rng.IntN(4) {
		k := fmt.Sprintf("k%d", i)
		switch rng.IntN(5) {
		case 0, 1:
			m.PutStr(k, text(rng, own, foreign))
		case 2:
			if depth < 2 {
				fill(rng, m.PutEmptyMap(k), own, foreign, depth+1)
			}
		case 3:
			sl := m.PutEmptySlice(k)
			for range 1 + rng.IntN(3) {
				sl.AppendEmpty().SetStr(text(rng, own, foreign))
			}
		case 4:
			if len(foreign) > 0 {
				m.PutStr(foreign[rng.IntN(len(foreign))][0]+".attr", "v")
			}
		}
	}
}

// strings calls fn on every key and string value under v.
func eachString(v pcommon.Value, fn func(string)) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		fn(v.Str())
	case pcommon.ValueTypeMap:
		eachMapString(v.Map(), fn)
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			eachString(e, fn)
		}
	}
}

func eachMapString(m pcommon.Map, fn func(string)) {
	for k, v := range m.All() {
		if k == identity.AttrTenantID {
			continue
		}
		fn(k)
		eachString(v, fn)
	}
}

// TestPropertyNoForeignIdentifier: random tenants and records with foreign
// identifiers in random forms and places; after redaction no string of the
// batch holds a foreign identifier (raw, lowered, or decoded), and every own
// identifier that was written is still there.
func TestPropertyNoForeignIdentifier(t *testing.T) {
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		ts, p := randPolicy(t, rng)
		r, err := New(p, Options{})
		require.NoError(t, err)

		ownerIdx := rng.IntN(len(ts) + 1) // len(ts) = quarantine
		var own []string
		var foreign [][]string
		owner := policy.Quarantine
		for i, pt := range ts {
			if i == ownerIdx {
				owner = pt.id
				own = []string{pt.idents[0], pt.idents[1], pt.idents[2] + "k1x", "ops@" + pt.idents[1]}
			} else {
				foreign = append(foreign, pt.idents)
			}
		}

		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
		fill(rng, rl.Resource().Attributes(), own, foreign, 0)
		sl := rl.ScopeLogs().AppendEmpty()
		fill(rng, sl.Scope().Attributes(), own, foreign, 0)
		for range 3 {
			lr := sl.LogRecords().AppendEmpty()
			fill(rng, lr.Attributes(), own, foreign, 0)
			if rng.IntN(2) == 0 {
				lr.Body().SetStr(text(rng, own, foreign))
			} else {
				fill(rng, lr.Body().SetEmptyMap(), own, foreign, 0)
			}
		}
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetName(text(rng, own, foreign))
		fill(rng, sp.Attributes(), own, foreign, 0)
		ev := sp.Events().AppendEmpty()
		ev.SetName(text(rng, own, foreign))
		fill(rng, ev.Attributes(), own, foreign, 0)
		fill(rng, sp.Links().AppendEmpty().Attributes(), own, foreign, 0)
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		dp := ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
		fill(rng, dp.Attributes(), own, foreign, 0)
		fill(rng, dp.Exemplars().AppendEmpty().FilteredAttributes(), own, foreign, 0)
		fill(rng, ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes(), own, foreign, 0)

		// Record every own identifier written before redaction.
		var before strings.Builder
		collect := func(s string) { before.WriteString(s); before.WriteByte('\n') }
		walkAll(ld, td, md, collect)
		var wantOwn []string
		for _, o := range own {
			if strings.Contains(before.String(), o) {
				wantOwn = append(wantOwn, o)
			}
		}

		r.Logs(ld)
		r.Traces(td)
		r.Metrics(md)

		var after strings.Builder
		walkAll(ld, td, md, func(s string) {
			after.WriteString(s)
			after.WriteByte('\n')
			forms := []string{strings.ToLower(s)}
			if dec, _, ok := unescapeLayers(s); ok {
				forms = append(forms, strings.ToLower(dec))
			}
			if dec, err := url.QueryUnescape(s); err == nil {
				forms = append(forms, strings.ToLower(dec))
			}
			for _, f := range forms {
				for _, fi := range foreign {
					for _, ident := range fi {
						if strings.Contains(f, strings.ToLower(ident)) {
							t.Fatalf("seed %d owner %s: foreign identifier %q survives in %q", seed, owner, ident, s)
						}
					}
				}
			}
		})
		for _, o := range wantOwn {
			if !strings.Contains(after.String(), o) {
				t.Fatalf("seed %d owner %s: own identifier %q was removed\nbefore:\n%s\nafter:\n%s", seed, owner, o, before.String(), after.String())
			}
		}
	}
}

func walkAll(ld plog.Logs, td ptrace.Traces, md pmetric.Metrics, fn func(string)) {
	for _, rl := range ld.ResourceLogs().All() {
		eachMapString(rl.Resource().Attributes(), fn)
		for _, sl := range rl.ScopeLogs().All() {
			eachMapString(sl.Scope().Attributes(), fn)
			for _, lr := range sl.LogRecords().All() {
				eachMapString(lr.Attributes(), fn)
				eachString(lr.Body(), fn)
			}
		}
	}
	for _, rs := range td.ResourceSpans().All() {
		eachMapString(rs.Resource().Attributes(), fn)
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				fn(sp.Name())
				eachMapString(sp.Attributes(), fn)
				for _, ev := range sp.Events().All() {
					fn(ev.Name())
					eachMapString(ev.Attributes(), fn)
				}
				for _, l := range sp.Links().All() {
					eachMapString(l.Attributes(), fn)
				}
			}
		}
	}
	for _, rm := range md.ResourceMetrics().All() {
		eachMapString(rm.Resource().Attributes(), fn)
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeHistogram:
					for _, dp := range m.Histogram().DataPoints().All() {
						eachMapString(dp.Attributes(), fn)
						for _, ex := range dp.Exemplars().All() {
							eachMapString(ex.FilteredAttributes(), fn)
						}
					}
				case pmetric.MetricTypeSummary:
					for _, dp := range m.Summary().DataPoints().All() {
						eachMapString(dp.Attributes(), fn)
					}
				}
			}
		}
	}
}
