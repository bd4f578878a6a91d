package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const rulesPolicy = `defaults:
  redaction:
    rules:
      ticket: {pattern: 'TCK-[0-9]{6}', keywords: [TCK-]}
tenants:
  acme:
    identifiers: [acme.example]
    redaction:
      classes: {email: mask}
      rules:
        order_id: {pattern: 'ORD-[0-9]{10}', keywords: [ORD-], action: hash}
        gated: {pattern: '\b[0-9]{6}\b', keywords: [zzq], action: mask}
        cut: {pattern: 'CUT-[a-z]{4}', keywords: [cut-], action: remove}
  globex:
    identifiers: [globex.example]
    redaction:
      rules:
        ticket: {pattern: 'TCK-[0-9]{6}', keywords: [TCK-], action: keep}
`

func rulesRedactor(t *testing.T) *Redactor {
	t.Helper()
	p, err := policy.Parse("p.yaml", []byte(rulesPolicy))
	require.NoError(t, err)
	r, err := New(p, testOptions())
	require.NoError(t, err)
	return r
}

func TestTenantRules(t *testing.T) {
	r := rulesRedactor(t)
	h := func(tenant, v string) string {
		ps := r.newPass()
		ps.ru = r.rulesFor(tenant)
		return ps.replacement(policy.ActionHash, firstRule, v)
	}
	tests := []struct{ owner, in, want string }{
		{"acme", "order ORD-1234567890 shipped", "order " + h("acme", "ORD-1234567890") + " shipped"},
		{"acme", "order ord-1234567890 (lower case: the pattern is case-sensitive)", "order ord-1234567890 (lower case: the pattern is case-sensitive)"},
		{"acme", "order ORD-123 is short", "order ORD-123 is short"},
		// The keyword gates the rule: no keyword, no run, even where the
		// pattern would match.
		{"acme", "code 123456 here", "code 123456 here"},
		{"acme", "zzq code 123456 here", "zzq code <redacted:gated> here"},
		{"acme", "a CUT-abcd b", "a  b"},
		// Inherited from the defaults.
		{"acme", "see TCK-000123", "see <redacted:ticket>"},
		// Another tenant's rule is not this tenant's; a kept rule never runs.
		{"globex", "order ORD-1234567890 see TCK-000123", "order ORD-1234567890 see TCK-000123"},
		// A record without an owner gets the defaults' rules.
		{"", "see TCK-000123 and ORD-1234567890", "see <redacted:ticket> and ORD-1234567890"},
		// Found in escaped text like every class.
		{"acme", `{"m":"TCK\u002d000123"}`, `{"m":"<redacted:ticket>"}`},
		// A rule finding that overlaps a built-in class merges with it.
		{"acme", "mail TCK-000123@acme.example", "mail <redacted:email>"},
	}
	for _, tc := range tests {
		got, _ := redactFor(r, tc.owner, tc.in)
		assert.Equal(t, tc.want, got, "owner %q input %q", tc.owner, tc.in)
	}
	assert.NotEqual(t, h("acme", "ORD-1234567890"), h("globex", "ORD-1234567890"))
}

func TestTenantRulesAreAuditedUnderTheirName(t *testing.T) {
	r := rulesRedactor(t)
	ld, lr := acmeLog()
	lr.Body().SetStr("order ORD-1234567890 and ORD-0000000001, ticket TCK-000123")
	lr.Attributes().PutStr("k", "TCK-000124")
	st := r.Logs(ld)
	assert.Equal(t, map[StatKey]int64{{"acme", "order_id"}: 2, {"acme", "ticket"}: 2}, st.Redactions)
	cls, ok := lr.Attributes().Get(AttrClasses)
	require.True(t, ok)
	assert.Equal(t, []any{"order_id", "ticket"}, cls.Slice().AsRaw())
	cnt, _ := ld.ResourceLogs().At(0).Resource().Attributes().Get(AttrCount)
	assert.Equal(t, int64(4), cnt.Int())
	assert.NotContains(t, lr.Body().Str(), "ORD-")
	v, _ := lr.Attributes().Get("k")
	assert.Equal(t, "<redacted:ticket>", v.Str())
}

func TestTenantRuleHashNeedsKey(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(rulesPolicy))
	require.NoError(t, err)
	_, err = New(p, Options{})
	require.ErrorContains(t, err, `tenant "acme" hashes rule order_id but no active_hash_key is configured`)
}
