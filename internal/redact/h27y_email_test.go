package redact

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// h27yRuns is detect's e-mail search as it was before 98ad18c: findEmails
// on the longest run of within bytes around each '@'.
func h27yRuns(s string) []hit {
	var dst []hit
	for di, d := range detectors {
		if d.cls != clsEmail {
			continue
		}
		within := withinTabs[di]
		for i := 0; i < len(s); {
			j := strings.IndexByte(s[i:], d.anchor)
			if j < 0 {
				break
			}
			lo, hi := i+j, i+j+1
			for lo > 0 && within[s[lo-1]] {
				lo--
			}
			for hi < len(s) && within[s[hi]] {
				hi++
			}
			dst = d.find(dst, s, lo, hi)
			i = hi
		}
	}
	return dst
}

func TestH27yEmailsWholeIsRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 27))
	al := []string{"a", "b", "Z", "9", ".", "@", "-", "_", "+", "%", " ", "\xc3\xa9", "\"", "co", "com", ".com", strings.Repeat("l", 62), "x@y.de", "\x00", ",", "é"}
	n := 0
	for range 2000000 {
		var b strings.Builder
		for range 1 + r.IntN(10) {
			b.WriteString(al[r.IntN(len(al))])
		}
		s := b.String()
		want := h27yRuns(s)
		got := findEmails(nil, s, 0, len(s))
		if !slices.Equal(want, got) {
			t.Fatalf("%q: runs %v, whole %v", s, want, got)
		}
		n += len(got)
	}
	t.Logf("%d addresses", n)
}
