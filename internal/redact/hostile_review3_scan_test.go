package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// hr3Lower folds ASCII letters only, as the automaton's byte classes do.
func hr3Lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// hr3Reference finds every occurrence of every pattern in s, ASCII case
// folded, by comparing at each offset: no automaton.
func hr3Reference(pats []string, s string) []acMatch {
	ls := hr3Lower(s)
	var out []acMatch
	for pi, p := range pats {
		lp := hr3Lower(p)
		for off := 0; off+len(lp) <= len(ls); off++ {
			if ls[off:off+len(lp)] == lp {
				out = append(out, acMatch{pi, off, off + len(lp)})
			}
		}
	}
	return hr3Sorted(out)
}

func hr3Sorted(m []acMatch) []acMatch {
	m = slices.Clone(m)
	slices.SortFunc(m, func(a, b acMatch) int {
		if a.start != b.start {
			return a.start - b.start
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return a.pattern - b.pattern
	})
	return m
}

// hr3RandomCase flips the case of p's ASCII letters at random.
func hr3RandomCase(r *rand.Rand, p string) string {
	b := []byte(p)
	for i, c := range b {
		if r.IntN(2) == 0 {
			switch {
			case 'a' <= c && c <= 'z':
				b[i] = c - 'a' + 'A'
			case 'A' <= c && c <= 'Z':
				b[i] = c - 'A' + 'a'
			}
		}
	}
	return string(b)
}

// TestHostileReview3ScanFindsEveryIdentifier: tenant identifiers (the
// bench policy's shapes, and ones of 19 to 50 bytes around the two walks'
// pairMin and warm-up, self-overlapping ones, and ones with bytes past
// ASCII) placed at every offset of random strings of every length from 0
// to 200, in random case, among fillers of pattern bytes, upper case,
// digits, separators, escapes and multi-byte UTF-8 (the Kelvin sign, which
// Unicode folds to k and ASCII does not): scan reports exactly what a
// comparison at every offset of the ASCII-lowered text finds.
func TestHostileReview3ScanFindsEveryIdentifier(t *testing.T) {
	rep := strings.Repeat
	sets := [][]string{
		{"cust00003", "cust00003.example", "ak_cust00003_", "cn-00003-", "cust00031", "acme"},
		{rep("ab", 10), rep("ab", 25), "b" + rep("ab", 9) + "x", "abab"},
		{"tenant-" + rep("x", 12), "tenant-" + rep("x", 43), "x" + rep("-", 18), "k-acme"},
		{"caf\xc3\xa9-acme", "\xe2\x84\xaa" + "elvin", "acme%40corp", "acme\\u0040corp", "a"},
		{"0123456789012345678", "01234567890123456789", rep("9", 50)},
	}
	fillers := []string{
		"abcx-.@_%\\uKC0123456789 ", "aAbB", "x", "9", " \t\n",
		"\xc3\xa9\xe2\x84\xaa\xff\x80kK-", "cust0000.example",
	}
	r := rand.New(rand.NewPCG(18, 3))
	checked := 0
	for si, pats := range sets {
		a, err := newAutomaton(pats)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n <= 200; n++ {
			fi := r.IntN(len(fillers))
			fill := fillers[fi]
			// Every offset, each with one of the set's patterns chosen at
			// random (none where it does not fit: the filler alone).
			for off := 0; off <= n; off++ {
				pi := r.IntN(len(pats))
				p := pats[pi]
				b := make([]byte, n)
				for i := range b {
					b[i] = fill[r.IntN(len(fill))]
				}
				if off+len(p) <= n {
					copy(b[off:], hr3RandomCase(r, p))
				}
				s := string(b)
				got, _, _ := a.scan(nil, s, nil)
				want := hr3Reference(pats, s)
				if g := hr3Sorted(got); !slices.Equal(g, want) {
					t.Fatalf("set %d, filler %d, pattern %d at %d of %d bytes %q:\n got %v\nwant %v", si, fi, pi, off, n, s, g, want)
				}
				checked++
			}
		}
	}
	t.Logf("%d strings checked", checked)
}
