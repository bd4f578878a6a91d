package tenantrouterexporter

import (
	"testing"
	"time"
)

// FuzzParseRetryAfter: any header value gives a wait in [0, 1h], never a
// panic or a negative wait (it found the overflow of "9227000000").
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", " 5 "} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("wait %s for %q", d, v)
		}
	})
}
