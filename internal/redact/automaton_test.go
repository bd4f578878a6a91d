package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/coregx/ahocorasick"
	"github.com/stretchr/testify/require"
)

// libraryMatches is the reference: coregx/ahocorasick's overlapping search,
// which the automaton replaced on the hot path.
func libraryMatches(t testing.TB, patterns []string, hay []byte) []acMatch {
	ac, err := ahocorasick.NewBuilder().AddStrings(patterns).Build()
	require.NoError(t, err)
	var out []acMatch
	for _, m := range ac.FindAllOverlapping(hay) {
		out = append(out, acMatch{m.PatternID, m.Start, m.End})
	}
	return out
}

// naiveMatches finds every occurrence of every pattern, by end then id.
func naiveMatches(patterns []string, hay []byte) []acMatch {
	var out []acMatch
	for pi, p := range patterns {
		for i := 0; i+len(p) <= len(hay); i++ {
			if string(hay[i:i+len(p)]) == p {
				out = append(out, acMatch{pi, i, i + len(p)})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b acMatch) int { return a.end - b.end })
	return out
}

func sameSet(a, b []acMatch) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	cmp := func(x, y acMatch) int {
		if x.end != y.end {
			return x.end - y.end
		}
		if x.pattern != y.pattern {
			return x.pattern - y.pattern
		}
		return x.start - y.start
	}
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

func checkAutomaton(t testing.TB, patterns []string, hay []byte) {
	a, err := newAutomaton(patterns)
	require.NoError(t, err)
	got := a.appendMatches(nil, hay)
	var used [256]bool
	distinct := 0
	for _, p := range patterns {
		for i := 0; i < len(p); i++ {
			if !used[p[i]] {
				used[p[i]] = true
				distinct++
			}
		}
	}
	// The library numbers byte classes in a byte: 256 distinct bytes overflow it.
	if distinct < 256 {
		if want := libraryMatches(t, patterns, hay); !slices.Equal(got, want) {
			t.Fatalf("patterns %q in %q: got %v, library %v", patterns, hay, got, want)
		}
	}
	if want := naiveMatches(patterns, hay); !sameSet(got, want) {
		t.Fatalf("patterns %q in %q: got %v, naive %v", patterns, hay, got, want)
	}
}

func TestAutomatonMatchesLibrary(t *testing.T) {
	checkAutomaton(t, []string{"he", "she", "his", "hers", "she"}, []byte("ushers his shell"))
	checkAutomaton(t, []string{"globex.example", "://", "example", "e", "globex"}, []byte("https://api.globex.example/x e"))
	m, err := NewMatcher(testPolicy(t))
	require.NoError(t, err)
	all := append(slices.Clip(m.patterns), keywords.patterns...)
	checkAutomaton(t, all, []byte(strings.ToLower("Bearer eyJhbGciOi x@globex.example password=hunter2 AKIAxxxx sk_live_abc https://initech.example")))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		pats := make([]string, 1+rng.IntN(8))
		for i := range pats {
			b := make([]byte, 1+rng.IntN(4))
			for j := range b {
				b[j] = "abc.@"[rng.IntN(5)]
			}
			pats[i] = string(b)
		}
		hay := make([]byte, rng.IntN(40))
		for j := range hay {
			hay[j] = "abcd.@"[rng.IntN(6)]
		}
		checkAutomaton(t, pats, hay)
	}
}

// FuzzAutomaton compares the automaton with the library and a naive search.
func FuzzAutomaton(f *testing.F) {
	f.Add("he\x00she\x00hers", "ushers")
	f.Add("globex.example\x00://", "https://globex.example")
	f.Fuzz(func(t *testing.T, pats, hay string) {
		var patterns []string
		for p := range strings.SplitSeq(pats, "\x00") {
			if p != "" && len(patterns) < 32 {
				patterns = append(patterns, p)
			}
		}
		if len(patterns) == 0 {
			return
		}
		checkAutomaton(t, patterns, []byte(hay))
	})
}

func TestAutomatonAppendsWithoutAllocating(t *testing.T) {
	m, err := NewMatcher(testPolicy(t))
	require.NoError(t, err)
	hay := []byte("https://api.acme.example/v1 and globex.example and ://")
	buf := make([]acMatch, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = m.ac.appendMatches(buf[:0], hay) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	require.NotEmpty(t, buf)
}
