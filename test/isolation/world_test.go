package isolation_test

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// tenant is one policy tenant as the test knows it: the clear key the
// policy holds only the hash of.
type tenant struct {
	id        string
	key       string
	keyID     string   // identity.KeyID(key): what tenant.credential must say
	idents    []string // "ak_<id>_", "<id>.example"
	suspended bool
}

// world is the policy under test and every tenant of it.
type world struct {
	tenants []tenant
	index   map[string]int
	pol     *policy.Policy
}

// Tenant ids are "tn" + 4 digits + 3 letters: all of one length, so no
// tenant's identifier holds another's, and the scanner can find every
// identifier with one search for "tn".
const idLen = 9

// newWorld declares n tenants with random keys; one in 50 is suspended
// (its key still authenticates; its data must never reach its store).
func newWorld(t *testing.T, r *rand.Rand, n int) *world {
	t.Helper()
	w := &world{index: map[string]int{}}
	var y strings.Builder
	y.WriteString("tenants:\n")
	for i := range n {
		id := fmt.Sprintf("tn%04d%c%c%c", i, 'a'+r.IntN(26), 'a'+r.IntN(26), 'a'+r.IntN(26))
		raw := make([]byte, 24)
		for j := range raw {
			raw[j] = byte(r.Uint32())
		}
		key := hex.EncodeToString(raw)
		hash, err := policy.HashAPIKey(key)
		if err != nil {
			t.Fatal(err)
		}
		tn := tenant{id: id, key: key, keyID: identity.KeyID(key), idents: []string{"ak_" + id + "_", id + ".example"}, suspended: r.IntN(50) == 0}
		fmt.Fprintf(&y, "  %s:\n    identifiers: [%q, %q]\n    api_keys: [%q]\n", id, tn.idents[0], tn.idents[1], hash)
		if tn.suspended {
			y.WriteString("    status: suspended\n")
		}
		w.index[id] = len(w.tenants)
		w.tenants = append(w.tenants, tn)
	}
	pol, err := policy.Parse("isolation.yaml", []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	w.pol = pol
	return w
}

// lowerASCII lowers ASCII letters only, as the redactor matches
// identifiers: strings.ToLower would also fold the Kelvin sign to "k".
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isWord(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// foreign returns the first identifier in s of a tenant other than owner
// (-1: no owner, every tenant's identifier is foreign), by the redactor's
// contract: ASCII case-insensitive, and an end of an identifier that is a
// letter or digit must not touch another letter or digit.
func (w *world) foreign(s string, owner int) (string, bool) {
	low := lowerASCII(s)
	for i := 0; ; {
		j := strings.Index(low[i:], "tn")
		if j < 0 {
			return "", false
		}
		p := i + j
		i = p + 1
		if p+idLen > len(low) {
			return "", false
		}
		id := low[p : p+idLen]
		if !isDigit(id[2]) || !isDigit(id[3]) || !isDigit(id[4]) || !isDigit(id[5]) || !isLower(id[6]) || !isLower(id[7]) || !isLower(id[8]) {
			continue
		}
		ti, ok := w.index[id]
		if !ok || ti == owner {
			continue
		}
		end := p + idLen
		// ak_<id>_: starts with a letter, ends with '_'.
		if p >= 3 && low[p-3:p] == "ak_" && end < len(low) && low[end] == '_' && (p == 3 || !isWord(low[p-4])) {
			return "ak_" + id + "_", true
		}
		// <id>.example: a letter at each end.
		if strings.HasPrefix(low[end:], ".example") && (p == 0 || !isWord(low[p-1])) {
			e := end + len(".example")
			if e == len(low) || !isWord(low[e]) {
				return id + ".example", true
			}
		}
	}
}
