package localstore

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// TestH27sParseLineageAsJSON: parseLineage gives what identity.ParseLineage
// (encoding/json) gives, over lineages as Encode writes them (strings
// with quotes, escapes, <>&, non-ASCII, invalid UTF-8, control bytes,
// empty fields, an upstream, huge and negative times) and those with a
// byte changed, cut short, spaced, keys reordered, repeated or in
// capitals; and the fast path takes Encode's plain form.
func TestH27sParseLineageAsJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 21))
	strs := []string{"", "a", "api_key", "127.0.0.1:5555", `q"uote`, `back\slash`, "<tag>&", "é", "\xff", "tab\t", "\u2028", strings.Repeat("x", 300)}
	pick := func() string {
		if r.IntN(3) == 0 {
			return strs[r.IntN(len(strs))]
		}
		return strs[r.IntN(4)]
	}
	fast := 0
	for i := range 100000 {
		l := identity.Lineage{ID: pick(), Accepted: r.Int64() - r.Int64(), Receiver: pick(), Auth: pick(), Client: pick(), Tenant: pick(),
			Credential: pick(), Collector: pick(), PolicyVersion: pick()}
		if r.IntN(2) == 0 {
			l.ID = "0123456789abcdef0123456789abcdef"
		}
		if r.IntN(8) == 0 {
			l.Upstream = &identity.Lineage{ID: pick(), Tenant: pick()}
		}
		s := l.Encode()
		switch r.IntN(8) {
		case 0:
			b := []byte(s)
			chars := "{}\":,0-1e. \\aZ"
			b[r.IntN(len(b))] = chars[r.IntN(len(chars))]
			s = string(b)
		case 1:
			s = s[:r.IntN(len(s)+1)]
		case 2:
			s = strings.Replace(s, `"auth"`, `"AUTH"`, 1)
		case 3:
			s = strings.Replace(s, `,"tenant":`, ` ,"tenant": `, 1)
		case 4:
			s = strings.Replace(s, `}`, `,"auth":"again"}`, 1)
		case 5:
			s = strings.Replace(s, `"accepted_unix_nano":`, `"accepted_unix_nano":0`, 1)
		}
		want, wok := identity.ParseLineage(s)
		got, gok := parseLineage(s)
		require.Equal(t, wok, gok, "%d: %q", i, s)
		require.Equal(t, want, got, "%d: %q", i, s)
		if _, ok := parseEncodedLineage(s); ok {
			fast++
		}
	}
	require.Greater(t, fast, 3000)
	_, ok := parseEncodedLineage(e2eLineage(3, timeNowForH27s()))
	require.True(t, ok, "bench-e2e's lineage takes the fast path")
}

func timeNowForH27s() time.Time { return time.Now() }
