package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadValid(t *testing.T) {
	p, err := Load("testdata/valid.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "bare", "globex", "initech"}, p.TenantIDs())
	assert.Len(t, p.Version, 16)

	acme, ok := p.Tenant("acme")
	require.True(t, ok)
	assert.Equal(t, StatusActive, acme.Status)
	assert.Equal(t, []string{"acme", "acme.example", "ak_acme_"}, acme.Identifiers)
	// Tenant keys override the defaults block key by key.
	assert.Equal(t, map[string]Action{"email": ActionHash, "private_key": ActionRemove}, acme.Redaction.Classes)
	assert.Equal(t, 30*24*time.Hour, acme.Retention[SignalLogs])
	assert.Equal(t, 14*24*time.Hour, acme.Retention[SignalMetrics])
	assert.Equal(t, 72*time.Hour, acme.Retention[SignalTraces])
	assert.Equal(t, "eu", acme.Residency)
	assert.Equal(t, []string{"localstore"}, acme.Backends[SignalLogs])
	assert.Equal(t, int64(1000), acme.Limits.RecordsPerSecond)
	assert.Equal(t, int64(8<<20), acme.Limits.MaxRequestBytes)
	assert.Equal(t, int64(4<<20), acme.Limits.MaxDecompressedBytes, "built-in default")
	assert.InDelta(t, 0.6, acme.Anomaly.Sensitivity, 1e-9)

	globex, _ := p.Tenant("globex")
	assert.False(t, globex.Active())

	// A tenant with nothing set is valid and takes every default.
	bare, ok := p.Tenant("bare")
	require.True(t, ok)
	assert.Equal(t, StatusActive, bare.Status)
	assert.Empty(t, bare.Identifiers)
	assert.Equal(t, map[string]Action{"email": ActionMask, "private_key": ActionRemove}, bare.Redaction.Classes)

	// Defaults are copied, not shared: one tenant's map is not another's.
	acme.Redaction.Classes["email"] = ActionKeep
	assert.Equal(t, ActionMask, bare.Redaction.Classes["email"])
}

func TestLoadInvalidNamesFileLineAndKey(t *testing.T) {
	_, err := Load("testdata/invalid.yaml")
	var verr *ValidationError
	require.True(t, errors.As(err, &verr), "got %v", err)
	want := []string{
		`testdata/invalid.yaml:3: defaults.identifiers: only a tenant may set identifiers, not the defaults block`,
		`testdata/invalid.yaml:7: tenants.acme.api_keys[0]: malformed key hash: must hold 64 hex digits after "sha256:", found 4`,
		`testdata/invalid.yaml:7: tenants.acme.api_keys[1]: malformed key hash: must start with "sha256:" (use: tenancyctl policy hash-key)`,
		`testdata/invalid.yaml:8: tenants.acme.colour: unknown key (want one of: status, identifiers, api_keys, client_certs, redaction, retention, max_future_skew, residency, tier, continuity, backends, limits, anomaly, backend_credentials)`,
		`testdata/invalid.yaml:10: tenants.globex.status: must be active or suspended, found "paused"`,
		`testdata/invalid.yaml:11: tenants.globex.identifiers[1]: identifier "ab" is shorter than 3 characters and would match ordinary text`,
		`testdata/invalid.yaml:11: tenants.globex.identifiers[0]: identifier "ACME.example" is already claimed by tenant "acme"`,
		`testdata/invalid.yaml:12: tenants.bad/id: tenant id may only hold a-z A-Z 0-9 and ! - _ . * ' ( ): found "/" at byte 3`,
		`testdata/invalid.yaml:13: tenants._quarantine: "_quarantine" is reserved for the pipeline's own data`,
		`testdata/invalid.yaml:14: tenants._internal: ids starting with "_" are reserved for the pipeline's own tenants`,
		`testdata/invalid.yaml:15: tenants.acme: declared twice (first on line 5)`,
		`testdata/invalid.yaml:17: tenants.hooli.retention.logs: want a duration such as 30d, 2w or 72h, found "forever"`,
		`testdata/invalid.yaml:17: tenants.hooli.retention.profiles: unknown signal (want logs, metrics or traces)`,
		`testdata/invalid.yaml:18: tenants.hooli.limits.records_per_second: want a non-negative whole number (KiB, MiB, GiB allowed), found "-5"`,
		`testdata/invalid.yaml:19: tenants.hooli.anomaly.sensitivity: want a number from 0 to 1, found "2"`,
		`testdata/invalid.yaml:20: tenants.hooli.redaction.classes.passport: unknown redaction class (want one of: ` + strings.Join(RedactionClasses, ", ") + `)`,
		`testdata/invalid.yaml:20: tenants.hooli.redaction.classes.email: must be mask, remove, hash or keep, found "blur"`,
	}
	var got []string
	for _, p := range verr.Problems {
		got = append(got, p.String())
	}
	assert.ElementsMatch(t, want, got)
	// Problems come in file order.
	for i := 1; i < len(verr.Problems); i++ {
		assert.LessOrEqual(t, verr.Problems[i-1].Line, verr.Problems[i].Line)
	}
}

func TestParseStructuralErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "p.yaml:1: (file): empty policy: want a mapping with a tenants key"},
		{"not yaml", "tenants: [\n", "p.yaml:1: (file): not valid YAML: line 1: did not find expected node content"},
		{"list root", "- a\n", "p.yaml:1: (file): want a mapping with defaults and tenants keys, found a list"},
		{"no tenants", "defaults: {}\n", "p.yaml:1: tenants: missing"},
		{"tenants list", "tenants: [a]\n", "p.yaml:1: tenants: want a mapping of tenant id to settings, found a list"},
		{"unknown top", "tenants: {}\nversion: 2\n", "p.yaml:2: version: unknown key (want one of: defaults, tenants)"},
		{"tenant scalar", "tenants:\n  acme: yes\n", `p.yaml:2: tenants.acme: want a mapping of settings, found the value "yes"`},
		{"identifiers scalar", "tenants:\n  acme: {identifiers: acme}\n", `p.yaml:2: tenants.acme.identifiers: want a list, found the value "acme"`},
		{"duplicate key across tenants", "tenants:\n  a1:\n    api_keys: [\"sha256:" + strings.Repeat("ab", 32) + "\"]\n  a2:\n    api_keys: [\"sha256:" + strings.Repeat("ab", 32) + "\"]\n",
			`p.yaml:5: tenants.a2.api_keys[0]: this key hash is already a key of tenant "a1"`},
		{"upper hex", "tenants:\n  a1:\n    api_keys: [\"sha256:" + strings.Repeat("AB", 32) + "\"]\n", "hex digits must be lower case"},
		{"long id", "tenants:\n  " + strings.Repeat("a", 151) + ": {}\n", "tenant id is longer than 150 characters"},
		{"dotdot", "tenants:\n  \"..\": {}\n", `tenant id must not be "." or ".."`},
		{"space", "tenants:\n  \"a b\": {}\n", `found " " at byte 1`},
		{"non-ascii", "tenants:\n  \"café\": {}\n", `found "é" at byte 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestParseEmptyTenantsIsValid(t *testing.T) {
	p, err := Parse("p.yaml", []byte("tenants: {}\n"))
	require.NoError(t, err)
	assert.Equal(t, 0, p.Len())
}

func TestVersionIsContentHash(t *testing.T) {
	a, err := Parse("a", []byte("tenants: {acme: {}}\n"))
	require.NoError(t, err)
	b, err := Parse("b", []byte("tenants: {acme: {}}\n"))
	require.NoError(t, err)
	c, err := Parse("a", []byte("tenants: {acme: {}, globex: {}}\n"))
	require.NoError(t, err)
	assert.Equal(t, a.Version, b.Version)
	assert.NotEqual(t, a.Version, c.Version)
}

func TestTenantForKey(t *testing.T) {
	h, err := HashAPIKey("acme-demo-key-0001")
	require.NoError(t, err)
	p, err := Parse("p", []byte("tenants:\n  acme:\n    api_keys: [\""+h+"\"]\n  globex: {}\n"))
	require.NoError(t, err)

	got, ok := p.TenantForKey("acme-demo-key-0001")
	require.True(t, ok)
	assert.Equal(t, "acme", got.ID)

	for _, k := range []string{"", "acme-demo-key-0002", "ACME-DEMO-KEY-0001", h} {
		_, ok := p.TenantForKey(k)
		assert.False(t, ok, "key %q", k)
	}
}

func TestHashAPIKeyRefusesShortKeys(t *testing.T) {
	_, err := HashAPIKey("short")
	assert.ErrorContains(t, err, "at least 16")
	h, err := HashAPIKey("  padded-key-with-newline-0001\n")
	require.NoError(t, err)
	h2, _ := HashAPIKey("padded-key-with-newline-0001")
	assert.Equal(t, h2, h, "surrounding white space from a pasted key is ignored")
}

func TestDiff(t *testing.T) {
	old, err := Parse("old", []byte(`
defaults: {retention: {logs: 7d}}
tenants:
  acme: {identifiers: [acme]}
  globex: {}
  initech: {}
`))
	require.NoError(t, err)
	nw, err := Parse("new", []byte(`
defaults: {retention: {logs: 14d}}
tenants:
  acme: {identifiers: [acme, acme.example], status: suspended}
  initech: {}
  hooli: {}
`))
	require.NoError(t, err)
	var got []string
	for _, c := range Diff(old, nw) {
		got = append(got, c.String())
	}
	assert.Equal(t, []string{
		"~ acme: status, identifiers, retention",
		"- globex",
		"+ hooli",
		"~ initech: retention",
	}, got)
}

func TestParseRetentionBounds(t *testing.T) {
	d, err := ParseRetention("106751d")
	require.NoError(t, err)
	assert.Equal(t, 106751*24*time.Hour, d)
	for _, s := range []string{"106752d", "20000w", "2147483647d"} {
		_, err := ParseRetention(s)
		assert.EqualError(t, err, `at most 106751d, found "`+s+`"`, "a time.Duration past ~292 years wraps round")
	}
}

func TestIdentifierPrefixValidation(t *testing.T) {
	tests := []struct {
		name, ident, want string
	}{
		{"star inside", "acme*live", `p.yaml:3: tenants.acme.identifiers[0]: identifier "acme*live" holds a "*" that is not its last character`},
		{"two stars", "acme_k**", `p.yaml:3: tenants.acme.identifiers[0]: identifier "acme_k**" holds a "*"`},
		{"leading star", "*acme", `p.yaml:3: tenants.acme.identifiers[0]: identifier "*acme" holds a "*"`},
		{"short prefix", "ak_*", `p.yaml:3: tenants.acme.identifiers[0]: identifier "ak_*" is a prefix shorter than 4 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    identifiers: ['"+tt.ident+"']\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	p, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    identifiers: ['acme_live_k*', 'AK-ACME-*', acme.example]\n"))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	assert.Equal(t, []string{"acme_live_k*", "AK-ACME-*", "acme.example"}, acme.Identifiers)
}

func TestRedactionRules(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`defaults:
  redaction:
    rules:
      order_id: {pattern: 'ORD-[0-9]{10}', keywords: [ORD-], action: hash}
      ticket: {pattern: 'TCK[0-9]{6}', keywords: [tck]}
tenants:
  acme:
    redaction:
      rules:
        ticket: {pattern: 'TCK-[0-9]{8}', keywords: [TCK-], action: remove}
  globex: {}
`))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	globex, _ := p.Tenant("globex")
	assert.Equal(t, map[string]Rule{
		"order_id": {Pattern: "ORD-[0-9]{10}", Keywords: []string{"ORD-"}, Action: ActionHash},
		"ticket":   {Pattern: "TCK-[0-9]{8}", Keywords: []string{"TCK-"}, Action: ActionRemove},
	}, acme.Redaction.Rules)
	assert.Equal(t, Rule{Pattern: "TCK[0-9]{6}", Keywords: []string{"tck"}, Action: ActionMask}, globex.Redaction.Rules["ticket"])
	assert.Len(t, p.Defaults.Redaction.Rules, 2)
}

func TestRedactionRuleErrors(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"bad re2", "{pattern: 'ORD-(?=x)', keywords: [ORD-]}", `p.yaml:6: tenants.acme.redaction.rules.order_id.pattern: pattern is not valid RE2 syntax: error parsing regexp: invalid or unsupported Perl syntax: ` + "`(?=`"},
		{"backreference", "{pattern: '(a)\\1', keywords: [aaa]}", `p.yaml:6: tenants.acme.redaction.rules.order_id.pattern: pattern is not valid RE2 syntax`},
		{"empty match", "{pattern: 'x*', keywords: [xxx]}", `p.yaml:6: tenants.acme.redaction.rules.order_id.pattern: pattern matches the empty string`},
		{"no keywords", "{pattern: 'ORD-[0-9]+'}", `p.yaml:5: tenants.acme.redaction.rules.order_id: missing keywords`},
		{"empty keywords", "{pattern: 'ORD-[0-9]+', keywords: []}", `p.yaml:5: tenants.acme.redaction.rules.order_id: missing keywords`},
		{"short keyword", "{pattern: 'ORD-[0-9]+', keywords: [O]}", `p.yaml:6: tenants.acme.redaction.rules.order_id.keywords[0]: keyword "O" must be 3 to 64 characters`},
		{"no pattern", "{keywords: [ORD-]}", `p.yaml:5: tenants.acme.redaction.rules.order_id: missing pattern`},
		{"bad action", "{pattern: 'ORD-[0-9]+', keywords: [ORD-], action: shred}", `p.yaml:6: tenants.acme.redaction.rules.order_id.action: must be mask, remove, hash or keep, found "shred"`},
		{"unknown key", "{pattern: 'ORD-[0-9]+', keywords: [ORD-], flags: i}", `p.yaml:6: tenants.acme.redaction.rules.order_id.flags: unknown key (want: pattern, keywords, action)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    redaction:\n      rules:\n        order_id:\n          "+tt.rule+"\n"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	for _, name := range []string{"email", "foreign_tenant", "Order", "x"} {
		_, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    redaction:\n      rules:\n        "+name+": {pattern: 'ORD-[0-9]+', keywords: [ORD-]}\n"))
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "p.yaml:5: tenants.acme.redaction.rules."+name+": rule name", name)
	}
}

// A key prefix claims every token starting with it: another tenant's
// identifier that starts with it would be redacted in that tenant's own
// records, so the policy refuses it.
func TestIdentifierPrefixConflicts(t *testing.T) {
	_, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    identifiers: ['acme_live_k*']\n  globex:\n    identifiers: [globex, ACME_LIVE_KEYS, 'acme_live_k2*']\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `p.yaml:5: tenants.globex.identifiers[1]: identifier "acme_live_keys" of tenant "globex" starts with key prefix "acme_live_k*" of tenant "acme"`)
	assert.Contains(t, err.Error(), `p.yaml:5: tenants.globex.identifiers[2]: identifier "acme_live_k2*" of tenant "globex" starts with key prefix "acme_live_k*" of tenant "acme"`)
	_, err = Parse("p.yaml", []byte("tenants:\n  acme:\n    identifiers: ['acme_live_k*', acme_live_key]\n  globex:\n    identifiers: [acme_live]\n"))
	require.NoError(t, err, "a tenant's own identifiers and a shorter one of another tenant do not conflict")
}
