package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// TestH26rResumeStopsWhereWalksMeet: a pattern across walk2's seam leaves
// the second walk off the first's state there, and resume re-walks only
// until the two meet. On strings with a pattern placed at every offset
// around the seam, among random fill, walk2 must give steps1's states,
// flags and highest state, and the re-walk must have stopped short of the
// end (the path under test) on many of them.
func TestH26rResumeStopsWhereWalksMeet(t *testing.T) {
	for name, ha := range h26rAutomata(t) {
		a := ha.automaton
		r := rand.New(rand.NewPCG(26, uint64(len(name))))
		alphabet := h13Alphabet(a)
		pats := ha.patterns
		var short, total int
		for range 4000 {
			n := pairMin + r.IntN(100)
			fill := randomStrings(r, alphabet, 1, n, n)[0]
			p := pats[r.IntN(len(pats))]
			if r.IntN(2) == 0 {
				p = h26rUpper(p)
			}
			w := min(a.warm, pairWarm)
			m := (n + w + 1) / 2
			at := max(0, min(n-len(p), m-len(p)+r.IntN(len(p)+w+1)))
			s := fill[:at] + p + fill[at+len(p):]
			s = s[:n]
			want := make([]uint32, n)
			wf, wt := a.steps1(s, want)
			got := make([]uint32, n)
			gf, gt := a.walk2(s, got, w)
			require.Equal(t, want, got, "%s: states of %q", name, s)
			require.Equal(t, [2]uint32{wf, wt}, [2]uint32{gf, gt}, "%s: flags of %q", name, s)
			// Where the second walk first agrees with the true walk past
			// the seam: resume stops there.
			id, _ := h13Walk(a, s[m-w:m])
			if m == 0 || id == want[m-1] {
				continue
			}
			total++
			for i := m; i < n; i++ {
				id = a.next(id, uint32(a.classes[lowerTable[s[i]]]))
				if id == want[i] {
					if i < n-1 {
						short++
					}
					break
				}
			}
		}
		t.Logf("%s: %d seams off the automaton's state, %d re-walks stopped short", name, total, short)
		require.Positive(t, short, name)
	}
}

// h26rAutomata are h13Automata's automata with their patterns: the two
// bench policies' and short lists with self-overlapping runs, bytes past
// ASCII and upper case.
func h26rAutomata(t *testing.T) map[string]h26rAutomaton {
	rep := strings.Repeat
	out := map[string]h26rAutomaton{}
	for name, pol := range map[string]*Matcher{
		"bench":     h26rMatcher(t, benchPolicy(t, 10)),
		"processor": h26rMatcher(t, redactbench.Policy(t, 100)),
		"dirty":     h26rMatcher(t, h26rPolicy(t, 10)),
	} {
		out[name] = h26rAutomaton{pol.ac, slices.Concat(pol.patterns, keywords.patterns)}
	}
	for i, pats := range [][]string{
		{"a"},
		{"ab", "b", "ba"},
		{rep("x", 16) + "y", "xy", "yx"},
		{rep("ab", 20), "aba", "bab", "b"},
		{"q" + rep("\xff", 12) + "q", "\xff\xfe", "zz"},
	} {
		a, err := newAutomaton(pats)
		require.NoError(t, err)
		out[string(rune('A'+i))] = h26rAutomaton{a, pats}
	}
	for name, a := range out {
		require.Empty(t, a.sparse, name)
	}
	return out
}

type h26rAutomaton struct {
	*automaton
	patterns []string
}

func h26rMatcher(t testing.TB, p *policy.Policy) *Matcher {
	m, err := NewMatcher(p)
	require.NoError(t, err)
	return m
}

// TestH26rReadOutMatchesReference: appendAll's read-out (eight dense
// states by one OR of their match bits; the highest of four where the
// automaton has sparse states) gives the reference's matches, in order,
// on strings packed with patterns at every offset, for the dense automata
// above and the same patterns with every state it can made sparse.
func TestH26rReadOutMatchesReference(t *testing.T) {
	for name, ha := range h26rAutomata(t) {
		sparse, err := newAutomatonBudget(ha.patterns, 0)
		require.NoError(t, err)
		r := rand.New(rand.NewPCG(27, uint64(len(name))))
		alphabet := h13Alphabet(ha.automaton)
		for _, a := range []*automaton{ha.automaton, sparse} {
			found := 0
			for range 2000 {
				var b strings.Builder
				for b.Len() < 10+r.IntN(150) {
					if r.IntN(3) == 0 {
						b.WriteString(randomStrings(r, alphabet, 1, 0, 9)[0])
						continue
					}
					p := ha.patterns[r.IntN(len(ha.patterns))]
					if r.IntN(2) == 0 {
						p = h26rUpper(p)
					}
					b.WriteString(p)
				}
				s := b.String()
				want := a.appendMatches(nil, appendLower(nil, s))
				got, _, _ := a.scan(nil, s, nil)
				require.Equal(t, want, got, "%s (sparse states %d): matches in %q", name, len(a.sparse), s)
				found += len(got)
			}
			require.Positive(t, found, name)
		}
	}
}

// h26rUpper is s with its ASCII letters upper-cased, its other bytes as
// they are.
func h26rUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
