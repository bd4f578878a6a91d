package redact

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// h13Automata are dense automata whose walks the tests below compare: the
// package's bench policy, the processor benchmark's, and patterns with
// long self-overlapping runs, bytes past ASCII and upper case.
func h13Automata(t *testing.T) map[string]*automaton {
	rep := strings.Repeat
	out := map[string]*automaton{}
	m, err := NewMatcher(benchPolicy(t, 10))
	require.NoError(t, err)
	out["bench"] = m.ac
	m, err = NewMatcher(redactbench.Policy(t, 100))
	require.NoError(t, err)
	out["processor"] = m.ac
	for i, pats := range [][]string{
		{"a"},
		{"ab", "b", "ba"},
		{rep("x", 16) + "y", "xy", "yx"},
		{rep("ab", 20), "aba", "bab", "b"},
		{"q" + rep("\xff", 12) + "q", "\xff\xfe", "Zz"},
	} {
		a, err := newAutomaton(pats)
		require.NoError(t, err)
		out[string(rune('A'+i))] = a
	}
	for name, a := range out {
		require.Empty(t, a.sparse, name)
	}
	return out
}

// h13Alphabet is the bytes a's patterns hold and those the facts DFA
// tells apart.
func h13Alphabet(a *automaton) string {
	var b strings.Builder
	for c := range 256 {
		if a.classes[c] != 0 {
			b.WriteByte(byte(c))
		}
	}
	b.WriteString("0123456789 .-:%\\=aZ\x80")
	return b.String()
}

// TestH13Walk2EveryWarmUp: walk2 gives steps1's states, flags and highest
// state for every warm-up from none to the longest pattern less one, on
// random strings of every length it takes. Short warm-ups leave the second
// walk off the first's automaton state, or facts state alone, at the seam
// (both counted, so resume's two ways are both taken).
func TestH13Walk2EveryWarmUp(t *testing.T) {
	for name, a := range h13Automata(t) {
		r := rand.New(rand.NewPCG(13, uint64(len(name))))
		alphabet := h13Alphabet(a)
		var idMiss, factMiss int
		for range 3000 {
			n := 1 + r.IntN(120)
			s := randomStrings(r, alphabet, 1, n, n)[0]
			want := make([]uint32, n)
			wf, wt := a.steps1(s, want)
			for w := 0; w <= a.warm && w <= 24; w++ {
				if (n+w+1)/2 > n {
					require.Panics(t, func() { a.walk2(s, make([]uint32, n), w) })
					continue
				}
				got := make([]uint32, n)
				gf, gt := a.walk2(s, got, w)
				require.Equal(t, want, got, "%s: states of %q, warm-up %d", name, s, w)
				require.Equal(t, [2]uint32{wf, wt}, [2]uint32{gf, gt}, "%s: flags of %q, warm-up %d", name, s, w)
				m := (n + w + 1) / 2
				id, fst := h13Walk(a, s[m-w:m])
				_, trueFst := h13Walk(a, s[:m])
				switch {
				case m > 0 && id != want[m-1]:
					idMiss++
				case fst != trueFst:
					factMiss++
				}
			}
		}
		t.Logf("%s: seams off the automaton's state %d, off the facts' alone %d", name, idMiss, factMiss)
		require.Positive(t, idMiss, name)
		require.Positive(t, factMiss, name)
	}
}

// h13Walk is both DFAs' states after s, from their starts, step by step.
func h13Walk(a *automaton, s string) (id, fst uint32) {
	for i := 0; i < len(s); i++ {
		id = a.next(id, uint32(a.classes[lowerTable[s[i]]]))
		fst = factTable[(uint32(factKinds[s[i]])*factRowBytes+fst)/4]
	}
	return id, fst
}

// TestH13ScanAroundPairMin: strings from just below pairMin to well past
// it, with a pattern, a digit run or an IBAN's start at every offset (so
// across the seam of the two walks), scan as the references do.
func TestH13ScanAroundPairMin(t *testing.T) {
	rep := strings.Repeat
	for name, a := range h13Automata(t) {
		mids := []string{"4111 1111 1111 1111", rep("9", 30), "DE89 3704", "10.0.3.17", "%40", "a:b::1"}
		if name == "bench" || name == "processor" {
			mids = append(mids, "cust00003.example", "Billing@CUST00007.Example", "putty-user-key-file", "ak_cust00001_x")
		}
		for _, mid := range mids {
			for _, fill := range []string{"x", " ", "1", "a1", "=", "a"} {
				for n := pairMin - 1; n <= 3*pairMin; n++ {
					if len(mid) > n {
						continue
					}
					for off := 0; off+len(mid) <= n; off++ {
						s := rep(fill, n)[:off] + mid + rep(fill, n)
						checkScan(t, a, s[:n])
					}
				}
			}
		}
	}
}

// TestH13MatchBitMarksReportingStates: a dense id has matchBit set exactly
// when its state reports a match, and state() maps it back to its state,
// for every id in the tables of a dense and a mostly sparse automaton.
func TestH13MatchBitMarksReportingStates(t *testing.T) {
	pats := []string{"acme", "acme.example", "://", "@", "cust0", "cust00", "cust01"}
	for _, budget := range []int{denseRowBudget, 0} {
		a, err := newAutomatonBudget(pats, budget)
		require.NoError(t, err)
		require.Zero(t, a.stride%2, "rows of an even number of words")
		ids := append(append([]uint32{0}, a.trans...), a.excNext...)
		for _, ss := range a.sparse {
			ids = append(ids, ss.fallback)
		}
		reporting := 0
		for _, id := range ids {
			if id >= a.sparseFrom {
				continue
			}
			st := a.state(id)
			require.Equal(t, id&^matchBit, st*a.rowBytes, "id %d", id)
			reports := a.matchOff[st+1] > a.matchOff[st]
			require.Equal(t, reports, id&matchBit != 0, "id %d", id)
			require.Equal(t, reports, id >= a.matchFrom, "id %d", id)
			if reports {
				reporting++
			}
		}
		require.Positive(t, reporting)
	}
}

// TestH13StateOfReportingIDs: the reciprocal gives back the exact state of
// a reporting id (a row's offset plus matchBit) for every even row width a
// byte alphabet allows, up to the largest id below 2^31.
func TestH13StateOfReportingIDs(t *testing.T) {
	for stride := uint32(2); stride <= 258; stride += 2 {
		row := 4 * stride
		a := automaton{rowBytes: row, recip: (1<<32 + uint64(row) - 1) / uint64(row)}
		last := (uint32(1<<31-1) - matchBit) / row
		for st := uint64(0); st <= uint64(last); st += uint64(last)/997 + 1 {
			for _, r := range []uint32{0, matchBit} {
				if got := a.state(uint32(st)*row + r); got != uint32(st) {
					t.Fatalf("row %d: state(%d) = %d, want %d", row, uint32(st)*row+r, got, st)
				}
			}
		}
		for _, r := range []uint32{0, matchBit} {
			if got := a.state(last*row + r); got != last {
				t.Fatalf("row %d: state(%d) = %d, want %d", row, last*row+r, got, last)
			}
		}
	}
}
