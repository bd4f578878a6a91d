//go:build linux

package redact

import (
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// Hostile review of b539249 (steps2's unchecked loads and stores).

// guarded returns a byte region of n bytes whose first byte follows an
// inaccessible page and whose last byte precedes one, so a load or store
// one byte outside it faults.
func guarded(t *testing.T, n int) (head, tail []byte) {
	page := syscall.Getpagesize()
	size := (n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(mem) })
	require.NoError(t, syscall.Mprotect(mem[:page], syscall.PROT_NONE))
	require.NoError(t, syscall.Mprotect(mem[page+size:], syscall.PROT_NONE))
	return mem[page : page+n : page+n], mem[page+size-n : page+size : page+size]
}

// scanGuarded scans s placed against each guard page, its states against
// the guard pages too, and checks it gives what scan gives on the heap.
func scanGuarded(t *testing.T, a *automaton, s string, want []acMatch, wantFlags uint32) {
	if s == "" {
		return
	}
	head, tail := guarded(t, len(s))
	sh, st := guarded(t, 4*len(s))
	for _, buf := range [][]byte{head, tail} {
		copy(buf, s)
		gs := unsafe.String(unsafe.SliceData(buf), len(buf))
		for _, sb := range [][]byte{sh, st} {
			states := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(sb))), len(s))
			b := scanBuf{states: states}
			flags := a.scanInto(&b, gs)
			require.Equal(t, wantFlags, flags, "flags of %q", s)
			require.Equal(t, want, b.matches, "matches in %q", s)
		}
	}
}

// Policies whose longest pattern puts 3*warm below, at and above pairMin,
// patterns with bytes past ASCII and upper case, strings of every length
// around the two-walk threshold with a pattern at every offset (so across
// the seam where the second walk takes over): the two walks give what the
// references give, and read and write nothing outside the string and the
// states (each sits against an inaccessible page).
func TestHostileReview2ScanSeamAndBounds(t *testing.T) {
	rep := strings.Repeat
	for _, pats := range [][]string{
		{"a"},
		{"ab", "b", "ba"},
		{rep("x", 16) + "y", "xy", "yx"}, // warm 16: 3*warm == pairMin
		{rep("x", 17) + "y", "x1", "\xc3\xa9t\xc3\xa9"}, // warm 17: 3*warm > pairMin
		{"q" + rep("\xff", 40) + "q", "\xff\xfe", "Zz"},
		{rep("ab", 50), "aba", "bab", "b"}, // warm 99, self-overlapping
	} {
		a, err := newAutomaton(pats)
		require.NoError(t, err)
		if len(a.sparse) != 0 {
			continue // steps2 is the dense automaton's
		}
		thr := max(pairMin, 3*a.warm)
		alphabet := strings.Join(pats, "") + "09 .:%\\\x80"
		r := rand.New(rand.NewPCG(uint64(len(pats)), uint64(a.warm)))
		for _, n := range []int{thr - 1, thr, thr + 1, thr + 2, thr + a.warm, 2*thr + 1} {
			for _, p := range pats {
				if len(p) > n {
					continue
				}
				for off := 0; off+len(p) <= n; off++ {
					b := []byte(randomStrings(r, alphabet, 1, n, n)[0])
					copy(b[off:], p)
					s := string(b)
					checkScan(t, a, s)
					var want scanBuf
					flags := a.scanInto(&want, s)
					if off%7 == 0 {
						scanGuarded(t, a, s, want.matches, flags)
					}
				}
			}
		}
	}
}

// steps2 refuses a string too short for its two walks rather than read and
// write past it: the first walk takes (n+warm+1)/2 bytes, more than n when
// n < warm (denseSteps never calls it so, but the check is all that
// stands before its unchecked loads and stores).
func TestHostileReview2Steps2RefusesShortStrings(t *testing.T) {
	a, err := newAutomaton([]string{strings.Repeat("x", 21)})
	require.NoError(t, err)
	w := a.warm
	backing := strings.Repeat("x", 4*w)
	states := make([]uint32, 4*w)
	for n := 1; n < w; n++ {
		require.Panics(t, func() { a.steps2(backing[:n], states[:n]) }, "n=%d warm=%d", n, w)
	}
	for n := w; n < 4*w; n++ {
		one := make([]uint32, n)
		f1, t1 := a.steps1(backing[:n], one)
		f2, t2 := a.steps2(backing[:n], states[:n])
		require.Equal(t, [2]uint32{f1, t1}, [2]uint32{f2, t2}, "n=%d", n)
		require.Equal(t, one, states[:n], "n=%d", n)
	}
}
