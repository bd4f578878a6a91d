package redact

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Span is a byte range [Start, End) of a string.
type Span struct{ Start, End int }

// noOwner marks a record that no declared tenant owns: every identifier is
// foreign to it.
const noOwner = -1

// Matcher finds other tenants' identifiers in strings. It compiles every
// declared tenant's identifiers into one Aho-Corasick automaton, so a search
// costs one table step per byte however many tenants the policy declares.
// It is immutable and safe for concurrent use; build a new one per policy
// version.
//
// The automaton is our own (automaton.go), built exactly as
// github.com/coregx/ahocorasick builds its DFA and tested against it: the
// library has no way to search without returning a fresh slice of
// matches, and that slice was the one allocation left per clean record
// (the owner's own domain and "://" are patterns).
type Matcher struct {
	// ac holds the identifiers (pattern ids below len(patterns)) and, after
	// them, the class keywords of the prefilter and, from ruleBase on, the
	// keywords of tenant-defined rules, so one pass over a string finds all.
	ac       *automaton
	ruleBase int
	patterns []string
	// owners[pattern] lists the tenants (indices into ids) that declare it.
	owners [][]int32
	// wordStart/wordEnd say whether the identifier begins/ends with a letter
	// or digit, where a word boundary is required.
	wordStart, wordEnd []bool
	tenants            map[string]int32
	ids                []string
}

// NewMatcher compiles the identifiers of every tenant of p.
func NewMatcher(p *policy.Policy) (*Matcher, error) { return newMatcher(p, nil) }

// newMatcher is NewMatcher with more patterns (tenant-defined rules'
// keywords) after the class keywords, ids from ruleBase on.
func newMatcher(p *policy.Policy, extra []string) (*Matcher, error) {
	m := &Matcher{tenants: map[string]int32{}}
	byPattern := map[string]int{}
	for _, id := range p.TenantIDs() {
		t, _ := p.Tenant(id)
		ti := int32(len(m.ids))
		m.ids = append(m.ids, id)
		m.tenants[id] = ti
		for _, ident := range t.Identifiers {
			// A key prefix ("acme_live_k*") is its text without the star,
			// with no boundary wanted after it: any token starting with it
			// is the tenant's. It keeps its own pattern id, apart from an
			// exact identifier of the same text.
			key := lowerASCII(ident)
			lo, prefix := strings.CutSuffix(key, "*")
			pi, ok := byPattern[key]
			if !ok {
				pi = len(m.patterns)
				byPattern[key] = pi
				m.patterns = append(m.patterns, lo)
				m.owners = append(m.owners, nil)
				m.wordStart = append(m.wordStart, isWord(lo[0]))
				m.wordEnd = append(m.wordEnd, !prefix && isWord(lo[len(lo)-1]))
			}
			if !slices.Contains(m.owners[pi], ti) {
				m.owners[pi] = append(m.owners[pi], ti)
			}
		}
	}
	m.ruleBase = len(m.patterns) + len(keywords.patterns)
	ac, err := newAutomaton(slices.Concat(m.patterns, keywords.patterns, extra))
	if err != nil {
		return nil, fmt.Errorf("compile identifiers: %w", err)
	}
	m.ac = ac
	return m, nil
}

// owner returns the index of tenant id, or noOwner.
func (m *Matcher) owner(id string) int32 {
	if i, ok := m.tenants[id]; ok {
		return i
	}
	return noOwner
}

// Find appends to dst the spans of s holding an identifier foreign to the
// tenant owner ("" or an undeclared id: every identifier is foreign). Each
// span covers the identifier's whole enclosing token, in bytes of s, also
// when the identifier was percent-encoded or JSON-escaped.
func (m *Matcher) Find(dst []Span, s, owner string) []Span {
	var buf [8]acMatch
	dst, _, _ = m.find(dst, buf[:0], nil, s, m.owner(owner))
	return dst
}

// find is Find with scratch space for the automaton (mbuf, states),
// returned for reuse.
func (m *Matcher) find(dst []Span, mbuf []acMatch, states []uint32, s string, owner int32) ([]Span, []acMatch, []uint32) {
	if len(m.patterns) == 0 {
		return dst, mbuf, states
	}
	var f facts
	mbuf, f, states = m.ac.scan(mbuf[:0], s, states)
	dst = m.findPlain(dst, s, mbuf, owner, nil)
	if f.esc && hasEscapes(s) {
		if dec, pos, ok := unescapeLayers(s); ok {
			mbuf, _, states = m.ac.scan(mbuf[:0], dec, states)
			dst = m.findPlain(dst, dec, mbuf, owner, pos)
		}
	}
	return dst, mbuf, states
}

// findPlain appends the spans of the identifier hits among hits (the
// automaton's matches on s) that are foreign to owner. pos, for s decoded
// from the string being searched, maps s's offsets back to that string's.
func (m *Matcher) findPlain(dst []Span, s string, hits []acMatch, owner int32, pos []int) []Span {
	first := len(dst)
	for _, hit := range hits {
		pi := hit.pattern
		if pi >= len(m.patterns) {
			continue // a class keyword
		}
		if m.wordStart[pi] && hit.start > 0 && isWord(s[hit.start-1]) {
			continue
		}
		if m.wordEnd[pi] && hit.end < len(s) && isWord(s[hit.end]) {
			continue
		}
		if owner != noOwner && slices.Contains(m.owners[pi], owner) {
			continue
		}
		start, end := hit.start, hit.end
		for start > 0 && isToken(s[start-1]) {
			start--
		}
		for end < len(s) && isToken(s[end]) {
			end++
		}
		// A sentence's full stop or a trailing dash is not part of a host.
		for end > hit.end && (s[end-1] == '.' || s[end-1] == '-') {
			end--
		}
		sp := Span{start, end}
		if pos != nil {
			sp = Span{pos[start], pos[end]}
		}
		// Identifiers nested in one token (globex, globex.example) give one span.
		if !slices.Contains(dst[first:], sp) {
			dst = append(dst, sp)
		}
	}
	return dst
}

// Contains reports whether s holds an identifier foreign to owner.
func (m *Matcher) Contains(s, owner string) bool {
	var buf [4]Span
	return len(m.Find(buf[:0], s, owner)) > 0
}

// Tenants is the number of tenants whose identifiers were compiled.
func (m *Matcher) Tenants() int { return len(m.ids) }

// isWord reports an ASCII letter or digit.
func isWord(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' }

// isToken reports a byte that may be part of an identifier's enclosing token:
// an e-mail address, a host name, an API key.
func isToken(c byte) bool {
	return isWord(c) || c == '.' || c == '_' || c == '-' || c == '@' || c == '+'
}

func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

func lowerASCII(s string) string { return string(appendLower(make([]byte, 0, len(s)), s)) }
