package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"

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

// checkAutomaton checks the automaton as built (small: all dense) and with
// every state it can make sparse.
func checkAutomaton(t testing.TB, patterns []string, hay []byte) {
	for _, budget := range []int{denseRowBudget, 0} {
		a, err := newAutomatonBudget(patterns, budget)
		require.NoError(t, err)
		checkMatches(t, a, patterns, hay)
		var states []uint32
		got, _, _ := a.scan(nil, string(hay), states)
		// scan folds ASCII case; the table walk is exact on bytes, so it
		// walks the haystack lowered.
		if want := a.appendMatches(nil, appendLower(nil, string(hay))); !slices.Equal(got, want) {
			t.Fatalf("budget %d: scan %v, table walk %v", budget, got, want)
		}
	}
}

func checkMatches(t testing.TB, a *automaton, patterns []string, hay []byte) {
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
		pats, hay := randomCase(rng, 8, 4, "abc.@", 40, "abcd.@")
		checkAutomaton(t, pats, hay)
	}
}

// randomCase is up to maxPats patterns of up to maxLen bytes of alphabet,
// and a haystack of up to hayLen bytes of hayAlphabet.
func randomCase(rng *rand.Rand, maxPats, maxLen int, alphabet string, hayLen int, hayAlphabet string) ([]string, []byte) {
	pats := make([]string, 1+rng.IntN(maxPats))
	for i := range pats {
		b := make([]byte, 1+rng.IntN(maxLen))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		pats[i] = string(b)
	}
	hay := make([]byte, rng.IntN(hayLen))
	for j := range hay {
		hay[j] = hayAlphabet[rng.IntN(len(hayAlphabet))]
	}
	return pats, hay
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
	classes := &a.classes
	var sid uint32
	for i, b := range hay {
		sid = a.next(sid, uint32(classes[b]))
		if sid < a.matchFrom {
			continue
		}
		st := a.index(sid)
		for _, pi := range a.matchData[a.matchOff[st]:a.matchOff[st+1]] {
			dst = append(dst, acMatch{int(pi), i + 1 - int(a.lens[pi]), i + 1})
		}
	}
	return dst
}

// TestStateFromPremultipliedID: the reciprocal gives back the exact state
// for every row size a byte alphabet allows (4 bytes per class), up to the
// largest id.
func TestStateFromPremultipliedID(t *testing.T) {
	for stride := uint32(1); stride <= 257; stride++ {
		row := 4 * stride
		a := automaton{rowBytes: row, recip: (1<<32 + uint64(row) - 1) / uint64(row)}
		last := (uint32(1<<32-1) / row)
		for _, st := range []uint32{0, 1, 2, 1000, 123457, last / 2, last - 1, last} {
			if got := a.state(st * row); got != st {
				t.Fatalf("row %d: state(%d) = %d, want %d", row, st*row, got, st)
			}
		}
		for st := uint64(0); st <= uint64(last); st += uint64(last)/997 + 1 {
			if got := a.state(uint32(st) * row); got != uint32(st) {
				t.Fatalf("row %d: state(%d) = %d, want %d", row, uint32(st)*row, got, st)
			}
		}
	}
}

// TestTableIsExactlyWide: one row of exactly the class count per state.
func TestTableIsExactlyWide(t *testing.T) {
	a, err := newAutomaton([]string{"acme", "acme.example", "://", "@"})
	require.NoError(t, err)
	assert.Equal(t, int(a.numDense), len(a.trans)/int(a.stride))
	assert.Equal(t, len(a.matchOff)-1, int(a.numDense)+len(a.sparse))
	assert.Empty(t, a.sparse, "a small policy is all dense")
	a, err = newAutomatonBudget([]string{"acme", "acme.example", "://", "@"}, 0)
	require.NoError(t, err)
	assert.NotEmpty(t, a.sparse, "without a budget, acme.example's deep states are sparse")
	assert.Equal(t, int(a.numDense), len(a.trans)/int(a.stride))
	assert.Equal(t, len(a.matchOff)-1, int(a.numDense)+len(a.sparse))
	assert.Equal(t, int(a.numDense)*int(a.stride)+1, len(a.trans), "the rows and a word for the last reporting row's shift")
	assert.EqualValues(t, 1+len("acme.xpl:/@"), a.stride, "one class per distinct byte, plus the rest (an even count)")
}

// TestSparseStatesAreExact: long patterns over a small alphabet make deep
// failure chains through sparse states; every match is still the
// library's and the naive search's.
func TestSparseStatesAreExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for range 1000 {
		pats, hay := randomCase(rng, 12, 12, "ab.", 80, "ab.c")
		checkAutomaton(t, pats, hay)
	}
}

// TestAutomatonSize: 10,000 tenants with four identifiers each (the
// benchmark's policy) fit the 20 MB; the build time is logged
// (BenchmarkNewMatcher measures it).
func TestAutomatonSize(t *testing.T) {
	p := benchPolicy(t, 10000)
	start := time.Now()
	m, err := NewMatcher(p)
	require.NoError(t, err)
	built := time.Since(start)
	a := m.ac
	t.Logf("%d states (%d dense of %d classes, %d sparse with %d exceptions): %.1f MB, built in %v",
		len(a.matchOff)-1, a.numDense, a.stride, len(a.sparse), len(a.excClass), float64(a.size())/1e6, built)
	assert.LessOrEqual(t, a.size(), 20_000_000)
}

// TestCheckIDsRefusesBadTables: the check that lets scan load without
// bounds checks refuses an id that is no row's offset, a sparse id past the
// sparse states, a column outside the first row and another kind's facts
// row.
func TestCheckIDsRefusesBadTables(t *testing.T) {
	for _, budget := range []int{denseRowBudget, 0} {
		for _, corrupt := range []func(a *automaton){
			func(a *automaton) { a.trans[3] += 4 },
			func(a *automaton) { a.trans[3] = a.sparseFrom + uint32(len(a.sparse)) },
			func(a *automaton) { a.col['a'] = unsafe.Add(a.col['a'], a.rowBytes) },
			func(a *automaton) { a.fact['a'] = a.fact['0'] },
		} {
			a, err := newAutomatonBudget([]string{"acme", "acme.example", "://", "@"}, budget)
			require.NoError(t, err)
			require.NoError(t, a.checkIDs())
			corrupt(a)
			assert.Error(t, a.checkIDs())
		}
	}
}
