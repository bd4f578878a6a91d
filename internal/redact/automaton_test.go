package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/coregx/ahocorasick"
	"github.com/stretchr/testify/assert"
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

func TestScanAppendsWithoutAllocating(t *testing.T) {
	m, err := NewMatcher(testPolicy(t))
	require.NoError(t, err)
	hay := "https://api.ACME.example/v1 and globex.example and ://"
	buf := make([]acMatch, 0, 64)
	var states []uint32
	if n := testing.AllocsPerRun(100, func() { buf, _, states = m.ac.scan(buf[:0], hay, states) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
	require.NotEmpty(t, buf)
}

// appendMatches appends every (overlapping) occurrence of every pattern in
// hay to dst, ordered by end and, at one end, as the library orders them:
// the automaton's table walked byte for byte, exact on bytes. It checks the
// table against the library; scan is checked against it.
func (a *automaton) appendMatches(dst []acMatch, hay []byte) []acMatch {
	trans, classes := a.trans, &a.classes
	var sid uint32
	for i, b := range hay {
		sid = trans[sid+uint32(classes[b])]
		if sid < a.matchFrom {
			continue
		}
		st := a.state(sid)
		for _, pi := range a.matchData[a.matchOff[st]:a.matchOff[st+1]] {
			dst = append(dst, acMatch{int(pi), i + 1 - int(a.lens[pi]), i + 1})
		}
	}
	return dst
}

// TestStateFromPremultipliedID: the reciprocal gives back the exact state
// for every stride a byte alphabet allows, up to the largest id.
func TestStateFromPremultipliedID(t *testing.T) {
	for stride := uint32(1); stride <= 257; stride++ {
		a := automaton{stride: stride, recip: (1<<32 + uint64(stride) - 1) / uint64(stride)}
		last := (uint32(1<<32-1) / stride)
		for _, st := range []uint32{0, 1, 2, 1000, 123457, last / 2, last - 1, last} {
			if got := a.state(st * stride); got != st {
				t.Fatalf("stride %d: state(%d) = %d, want %d", stride, st*stride, got, st)
			}
		}
		for st := uint64(0); st <= uint64(last); st += uint64(last)/997 + 1 {
			if got := a.state(uint32(st) * stride); got != uint32(st) {
				t.Fatalf("stride %d: state(%d) = %d, want %d", stride, uint32(st)*stride, got, st)
			}
		}
	}
}

// TestTableIsExactlyWide: one row of exactly the class count per state.
func TestTableIsExactlyWide(t *testing.T) {
	a, err := newAutomaton([]string{"acme", "acme.example", "://", "@"})
	require.NoError(t, err)
	assert.Equal(t, len(a.matchOff)-1, len(a.trans)/int(a.stride))
	assert.Zero(t, len(a.trans)%int(a.stride))
	assert.EqualValues(t, 1+len("acme.xpl:/@"), a.stride, "one class per distinct byte, plus the rest")
}
