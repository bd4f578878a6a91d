package redact

import (
	"math/rand/v2"
	"testing"
)

// TestH13Walk2StaysInside: strings around pairMin, and a short warm-up's
// seam, scanned against inaccessible pages on both sides of the string and
// of the states, read and write nothing outside them and give what the
// heap gives (scanGuarded), including when the second walk is walked again.
func TestH13Walk2StaysInside(t *testing.T) {
	for name, a := range h13Automata(t) {
		r := rand.New(rand.NewPCG(7, uint64(len(name))))
		alphabet := h13Alphabet(a)
		for n := pairMin - 2; n <= 2*pairMin+pairWarm; n++ {
			for range 4 {
				s := randomStrings(r, alphabet, 1, n, n)[0]
				var want scanBuf
				flags := a.scanInto(&want, s)
				scanGuarded(t, a, s, want.matches, flags)
			}
		}
	}
}
