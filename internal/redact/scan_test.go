package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// checkScan asserts that scan's one pass gives exactly what prepareRef and
// appendMatches give in two.
func checkScan(t testing.TB, a *automaton, s string) {
	wantLower, wantFacts := prepareRef(nil, s)
	want := a.appendMatches(nil, wantLower)
	got, f, _ := a.scan(nil, s, nil)
	require.Equal(t, min(wantFacts.digits, maxDigitRun), f.digits, "digits of %q", s)
	wantFacts.digits = f.digits
	require.Equal(t, wantFacts, f, "facts of %q", s)
	require.Equal(t, want, got, "matches in %q", s)
}

func TestScanMatchesPrepare(t *testing.T) {
	m, err := NewMatcher(benchPolicy(t, 10))
	require.NoError(t, err)
	for _, s := range []string{
		"", "a", "GET /api/v2/orders/83412/items?page=2 took 34ms status=200",
		"call 4111 1111 1111 1111 or 4111-1111-1111-1111 now", "+1 (415) 555-0100 x12",
		"DE89 3704 0044 0532 0130 00", "de89370400440532013000", "AB12", "ab12cd", "xAB12",
		"10.0.3.17", "1.2.3.4.5.6", "1..2..3..4", "999.999.999.9999", "v1.2.3",
		"fe80::1%25eth0", "a:b:c:d:e", "%40 \\u0040", "Notify Billing-Ops@CUST00009.Example",
		"1234567890123456789012345", "12 34 56 78 90 12", "12   34", "1-2-3-4-5-6-7-8-9",
		"\xff\xfe€ 1234 ÄÖÜ", "PASSWORD=Hunter2 Token=abc", "https://user:pw@host/",
	} {
		checkScan(t, m.ac, s)
	}
	// Every byte between digits, letters and dots, so each byte's kind
	// shows in the facts.
	for b := range 256 {
		for _, around := range [][2]string{{"12345", "678"}, {"ab", "12"}, {"1.2.3", "4"}, {"a:", ":b"}} {
			checkScan(t, m.ac, around[0]+string([]byte{byte(b)})+around[1])
		}
	}
	// Random strings over the bytes the facts care about.
	for _, s := range randomStrings(rand.New(rand.NewPCG(1, 2)), "aZb09 .-()+/:%\\@x_\xc3", 20000, 0, 39) {
		checkScan(t, m.ac, s)
	}
}

// TestScanInTwoWalks: strings long enough for steps2 give exactly what
// the references give, wherever a pattern, a digit run or an IBAN's start
// falls against the point where the second walk takes over, including
// runs that leave the two walks' facts states apart at that point.
func TestScanInTwoWalks(t *testing.T) {
	m, err := NewMatcher(benchPolicy(t, 10))
	require.NoError(t, err)
	a := m.ac
	require.Empty(t, a.sparse)
	rep := strings.Repeat
	n := max(pairMin, 3*a.warm)
	for _, mid := range []string{
		"cust00003.example", "Billing@CUST00007.Example", "putty-user-key-file", "ak_cust00001_x",
		"4111 1111 1111 1111", "1 2 3 4 5 6 7 8 9 0 1 2 3", rep("9", 40), "DE89 3704", "xx DE89 3704",
		"10.0.3.17", "1.2.3.4.5.6.7", "::1", "%40", rep("ab", 30),
	} {
		for _, fill := range []string{"x", " ", "1", "1 ", "a1", ".", "=", "a"} {
			for pad := range 2*n + len(mid) {
				checkScan(t, a, rep(fill, pad)[:pad]+mid+rep(fill, n))
				checkScan(t, a, rep(fill, n)[:n]+mid+rep(fill, pad)[:pad])
			}
		}
	}
	for _, s := range randomStrings(rand.New(rand.NewPCG(3, 4)), "aZb09 .-()+/:%\\@x_\xc3", 20000, n, 4*n) {
		checkScan(t, a, s)
	}
	for _, s := range randomStrings(rand.New(rand.NewPCG(5, 6)), "09 .", 5000, n, 4*n) {
		checkScan(t, a, s)
	}
}

func FuzzScan(f *testing.F) {
	m, err := NewMatcher(benchPolicy(f, 10))
	require.NoError(f, err)
	for _, s := range []string{"DE89 3704 0044 0532 0130 00", "10.0.3.17", "4111 1111 1111 1111", "a:b:c", "%40cust00003.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkScan(t, m.ac, s) })
}

var scanBody = "GET /api/v2/orders/83412/items?page=2 completed in 34ms status=200 bytes=5120 cache=miss region=eu-west-1 retries=0 ok"

// BenchmarkScan compares the fused pass with prepareRef and appendMatches one
// after the other, on one ordinary log body.
func BenchmarkScan(b *testing.B) {
	m, err := NewMatcher(benchPolicy(b, 10))
	require.NoError(b, err)
	var lower []byte
	var matches []acMatch
	var hits []uint32
	b.Run("impl=two-pass", func(b *testing.B) {
		b.SetBytes(int64(len(scanBody)))
		for b.Loop() {
			var f facts
			lower, f = prepareRef(lower[:0], scanBody)
			matches = m.ac.appendMatches(matches[:0], lower)
			_ = f
		}
	})
	b.Run("impl=fused", func(b *testing.B) {
		b.SetBytes(int64(len(scanBody)))
		for b.Loop() {
			var f facts
			matches, f, hits = m.ac.scan(matches[:0], scanBody, hits)
			_ = f
		}
	})
}

// BenchmarkSteps compares the automaton's walk over a log body in one
// walk and in two (steps2).
func BenchmarkSteps(b *testing.B) {
	m, err := NewMatcher(benchPolicy(b, 10))
	require.NoError(b, err)
	states := make([]uint32, len(scanBody))
	for _, impl := range []struct {
		name  string
		steps func(string, []uint32) (uint32, uint32)
	}{{"one", m.ac.steps1}, {"two", m.ac.steps2}} {
		b.Run("walks="+impl.name, func(b *testing.B) {
			b.SetBytes(int64(len(scanBody)))
			for b.Loop() {
				impl.steps(scanBody, states)
			}
		})
	}
}

// Byte kinds of prepareRef, classified on their own so the reference
// shares no table with scan (factKinds).
const (
	kindOther = iota
	kindDigit
	kindLetter
	kindSep // separators a digit run may span: " -.()+/"
	kindColon
	kindEscape // '%' and '\\'
)

var byteKinds = func() (k [256]byte) {
	for i := range 256 {
		c := byte(i)
		switch {
		case '0' <= c && c <= '9':
			k[i] = kindDigit
		case 'A' <= c && c <= 'Z':
			k[i] = kindLetter
		case 'a' <= c && c <= 'z':
			k[i] = kindLetter
		case strings.IndexByte(" -.()+/", c) >= 0:
			k[i] = kindSep
		case c == ':':
			k[i] = kindColon
		case c == '%' || c == '\\':
			k[i] = kindEscape
		}
	}
	return k
}()

// prepareRef is the reference for scan's facts: the prefilters' facts
// measured by plain code, byte by byte, with s lowered.
func prepareRef(dst []byte, s string) ([]byte, facts) {
	var f facts
	n := len(dst)
	dst = slices.Grow(dst, len(s))[:n+len(s)]
	out := dst[n:]
	cur, seps := 0, 0
	word, dots, dotDigits := 0, 0, 0 // word: length of the current [a-z0-9] run
	for i := 0; i < len(s) && i < len(out); i++ {
		c := s[i]
		out[i] = lowerTable[c]
		switch byteKinds[c] {
		case kindDigit:
			cur++
			seps = 0
			f.digits = max(f.digits, cur)
			if dotDigits++; dots >= 3 && dotDigits >= 4 {
				f.ipv4 = true
			}
			if word++; word == 4 && i >= 3 && byteKinds[s[i-3]] == kindLetter && byteKinds[s[i-2]] == kindLetter && byteKinds[s[i-1]] == kindDigit {
				f.iban = true
			}
			continue
		case kindLetter:
			word++
			cur, seps = 0, 0
			dots, dotDigits = 0, 0
			continue
		case kindSep:
			if seps++; seps > 2 {
				cur, seps = 0, 0
			}
			word = 0
			if c == '.' {
				dots++
				continue
			}
		case kindColon:
			f.colons++
			cur, seps, word = 0, 0, 0
		case kindEscape:
			f.esc = true
			cur, seps, word = 0, 0, 0
		default:
			cur, seps, word = 0, 0, 0
		}
		dots, dotDigits = 0, 0
	}
	return dst, f
}
