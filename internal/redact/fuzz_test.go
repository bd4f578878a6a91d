package redact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzMatcher checks the automaton against a naive search: every foreign
// identifier that occurs on word boundaries in s is inside a span that Find
// returns, spans lie within s, and own identifiers never produce a span.
func FuzzMatcher(f *testing.F) {
	for _, s := range []string{
		"bob@globex.example", "hooligan", "HOOLI.example", "ak_globex_xyz", "acme",
		"x%40globex.example", `\u0067lobex`, "globexglobex", "CN-2002-1", "%", `\`, "%4", `\u12`,
		"https://api.globex.example:8443/", "initech.example.", "\xff\xfeglobex",
	} {
		f.Add(s)
	}
	m, err := NewMatcher(testPolicy(f))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, s string) {
		spans := m.Find(nil, s, "acme")
		for _, sp := range spans {
			if sp.Start < 0 || sp.End > len(s) || sp.Start >= sp.End {
				t.Fatalf("span %v out of %q", sp, s)
			}
		}
		lower := strings.ToLower(s)
		if !isASCII(s) {
			return // strings.ToLower changes lengths of non-ASCII text
		}
		for i, pat := range m.patterns {
			if containsInt32(m.owners[i], m.owner("acme")) {
				continue
			}
			for off := 0; ; {
				j := strings.Index(lower[off:], pat)
				if j < 0 {
					break
				}
				a, b := off+j, off+j+len(pat)
				off = a + 1
				if m.wordStart[i] && a > 0 && isWord(lower[a-1]) || m.wordEnd[i] && b < len(lower) && isWord(lower[b]) {
					continue
				}
				covered := false
				for _, sp := range spans {
					if sp.Start <= a && b <= sp.End {
						covered = true
					}
				}
				if !covered {
					t.Fatalf("%q at %d in %q not in spans %v", pat, a, s, spans)
				}
			}
		}
		// Own identifiers alone never match.
		assert.Empty(t, m.Find(nil, "acme acme.example ak_acme_1", "acme"))
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func containsInt32(xs []int32, x int32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// FuzzUnescape checks the decoder's position map: it is monotone, ends at
// len(s), and strings without escapes decode to themselves.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"", "plain", "a%40b", "%zz%4", `\u0040\/\"\\\n`, `\u12`, `\`, "%%41", `\u00e9`, "%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, pos := Unescape(s)
		if len(pos) != len(dec)+1 || pos[len(dec)] != len(s) {
			t.Fatalf("pos %v for %q -> %q", pos, s, dec)
		}
		for i := 1; i < len(pos); i++ {
			if pos[i] < pos[i-1] {
				t.Fatalf("pos not monotone: %v", pos)
			}
		}
		if !hasEscapes(s) && dec != s {
			t.Fatalf("%q decoded to %q", s, dec)
		}
		dec2, pos2, _ := unescapeLayers(s)
		if len(pos2) > 0 && (len(pos2) != len(dec2)+1 || pos2[len(dec2)] != len(s)) {
			t.Fatalf("layers pos %v for %q -> %q", pos2, s, dec2)
		}
	})
}

// FuzzRedactString runs every detector on arbitrary text: no panic, and the
// result holds no foreign identifier of the plain text.
func FuzzRedactString(f *testing.F) {
	for _, s := range []string{"mail bob@globex.example", "4111 1111 1111 1111", "GB82WEST12345698765432", "-----BEGIN PRIVATE KEY-----", "password=x", "2001:db8::1", "eyJa.eyJb.c",
		`define('AUTH_KEY', 'a>b')`, `password "x y"`, "h:5432:d:u:p", "u:$apr1$ab$cdefghijklmnopqrstuvwx", `user: bob host: db`, `<User>root</User>`, `"pass"`} {
		f.Add(s)
	}
	r := testRedactor(f)
	f.Fuzz(func(t *testing.T, s string) {
		out, _ := redactFor(r, "acme", s)
		if isASCII(s) && strings.Contains(strings.ToLower(out), "globex.example") && !strings.Contains(strings.ToLower(s), "globex.example") {
			t.Fatalf("redaction introduced text: %q -> %q", s, out)
		}
		if isASCII(s) && !hasEscapes(s) && len(r.Matcher().Find(nil, out, "acme")) > 0 {
			t.Fatalf("foreign identifier survives: %q -> %q", s, out)
		}
	})
}
