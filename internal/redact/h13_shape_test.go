package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// boundedDigitsRef is boundedDigits as it was, with its byte classes as
// functions, each run read twice: the reference the table-driven one
// must equal.
func boundedDigitsRef(l string, min int, in func(byte) bool, before, after func(byte) bool) bool {
	for i := 0; i < len(l); {
		if !in(l[i]) {
			i++
			continue
		}
		j := i
		for j < len(l) && in(l[j]) {
			j++
		}
		start, end := -1, -1
		for k := i; k < j; k++ {
			if start < 0 && isDigit(l[k]) && (k == 0 || before(l[k-1])) {
				start = k
			}
			if isDigit(l[k]) && (k+1 == len(l) || after(l[k+1])) {
				end = k + 1
			}
		}
		if start >= 0 && end > start {
			n := 0
			for k := start; k < end; k++ {
				if isDigit(l[k]) {
					n++
				}
			}
			if n >= min {
				return true
			}
		}
		i = j
	}
	return false
}

func phoneShapeRef(l string) bool {
	return boundedDigitsRef(l, 7, isPhoneByte,
		func(c byte) bool { return !isWord(c) && strings.IndexByte("-_/.:", c) < 0 },
		func(c byte) bool { return !isWord(c) && strings.IndexByte("_/", c) < 0 })
}

// TestH13ShapesAreTheirReference: the card, SSN and phone shapes give what
// the reference gives on every string of random bytes around digits and
// on every byte placed between and around digit runs.
func TestH13ShapesAreTheirReference(t *testing.T) {
	check := func(s string) {
		t.Helper()
		if got, want := cardShape(s), boundedDigitsRef(s, 12, isCardByte, regexpBoundary, regexpBoundary); got != want {
			t.Fatalf("cardShape(%q) = %v, reference %v", s, got, want)
		}
		if got, want := ssnShape(s), boundedDigitsRef(s, 9, isCardByte, regexpBoundary, regexpBoundary); got != want {
			t.Fatalf("ssnShape(%q) = %v, reference %v", s, got, want)
		}
		if got, want := phoneShape(s), phoneShapeRef(s); got != want {
			t.Fatalf("phoneShape(%q) = %v, reference %v", s, got, want)
		}
	}
	for b := range 256 {
		c := string([]byte{byte(b)})
		for _, around := range [][2]string{{"1234567", "89012"}, {"123", "456 789"}, {"", "123456789012"}, {"123456789012", ""}, {"12 34 56 78", "9"}} {
			check(c + around[0] + c + around[1] + c)
			check(around[0] + c + c + around[1])
		}
	}
	r := rand.New(rand.NewPCG(13, 31))
	for _, s := range randomStrings(r, "0123456789 -+().x_/:ae\tA\xc3", 50000, 0, 40) {
		check(s)
	}
	for _, s := range randomStrings(r, "0123456789 -a_", 50000, 8, 30) {
		check(s)
	}
}

// userinfoNearRef is userinfoNear as a switch.
func userinfoNearRef(l string, end int) bool {
	for i := end; i < len(l); i++ {
		switch l[i] {
		case '@':
			return true
		case '/', ' ', '"', '\'', '\n':
			return false
		}
	}
	return false
}

// TestH13UserinfoNearIsItsReference: on every byte after "://" and on
// random strings, from every offset.
func TestH13UserinfoNearIsItsReference(t *testing.T) {
	var strs []string
	for b := range 256 {
		strs = append(strs, "https://u"+string([]byte{byte(b)})+"p@h/", "a://"+string([]byte{byte(b)})+"@")
	}
	strs = append(strs, randomStrings(rand.New(rand.NewPCG(1, 3)), "ab:/@ \"'\n\x00\xff", 20000, 0, 20)...)
	for _, s := range strs {
		for end := 0; end <= len(s); end++ {
			if got, want := userinfoNear(s, end), userinfoNearRef(s, end); got != want {
				t.Fatalf("userinfoNear(%q, %d) = %v, reference %v", s, end, got, want)
			}
		}
	}
}
