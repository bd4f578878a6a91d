package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Hostile review: one tenant's rules and key prefixes touch only its own
// records. Both tenants name a rule "secret" with different patterns and a
// shared keyword; acme's rules are gated by globex's identifier and match
// it with the hash action; acme's key prefix appears in globex's records.
const crossTenantRulesPolicy = `tenants:
  acme:
    identifiers: [acme.example, 'acme_k*']
    redaction:
      rules:
        secret: {pattern: 'SEC-[0-9]{4}', keywords: [SEC-, globex.example], action: hash}
        grab: {pattern: '[a-z]+\.example', keywords: [example], action: hash}
  globex:
    identifiers: [globex.example]
    redaction:
      rules:
        secret: {pattern: 'SEC-[A-Z]{4}', keywords: [SEC-], action: mask}
`

func TestTenantRulesAndPrefixesStayWithTheirTenant(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(crossTenantRulesPolicy))
	require.NoError(t, err)
	r, err := New(p, testOptions())
	require.NoError(t, err)
	const F = "<redacted:foreign_tenant>"
	hashAcme := func(v string) string {
		ps := r.newPass()
		ps.ru = r.rulesFor("acme")
		return ps.replacement(policy.ActionHash, firstRule, v)
	}
	in := "SEC-1234 SEC-ABCD globex.example acme_k77x foo.example"
	tests := []struct{ owner, want string }{
		// globex: only its own "secret"; acme's key is acme's data, masked;
		// acme's hash rules never run, its own identifier stays.
		{"globex", "SEC-1234 <redacted:secret> globex.example " + F + " foo.example"},
		// acme: its own rules; globex's identifier is masked, never hashed
		// (a hash under acme's key would still be globex's value, joinable
		// across acme's records), though acme's hash rule matched it.
		{"acme", hashAcme("SEC-1234") + " SEC-ABCD " + F + " acme_k77x " + hashAcme("foo.example")},
	}
	for _, tc := range tests {
		got, _ := redactFor(r, tc.owner, in)
		assert.Equal(t, tc.want, got, "owner %q", tc.owner)
	}

	// The audit counts name the record's own tenant and its rule.
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "globex")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(in)
	st := r.Logs(ld)
	assert.Equal(t, map[StatKey]int64{{"globex", "secret"}: 1, {"globex", "foreign_tenant"}: 1}, st.Redactions)
}

// A prefix may not be a prefix of another tenant's prefix or identifier,
// whichever is declared first and in any case: else the longer one's
// tokens would be the shorter one's tenant's in its owner's own records.
func TestKeyPrefixNestingAcrossTenantsIsRefused(t *testing.T) {
	for _, doc := range []string{
		"tenants:\n  acme: {identifiers: ['AKEY_*']}\n  globex: {identifiers: ['akey_glx_*']}\n",
		"tenants:\n  acme: {identifiers: ['akey_glx_*']}\n  globex: {identifiers: ['Akey_*']}\n",
		"tenants:\n  acme: {identifiers: ['akey_g*']}\n  globex: {identifiers: [akey_g]}\n",
	} {
		_, err := policy.Parse("p.yaml", []byte(doc))
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), "starts with key prefix", doc)
	}
}
