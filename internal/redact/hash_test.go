package redact

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestHashesArePerTenantAndPerKey: one value hashes differently for two
// tenants (their keys are derived apart, so pseudonyms cannot be joined
// across tenants), rotating the active key changes every output, and the
// pseudonym an old key made is re-derived from that key alone, as
// tenancyctl redact pseudonym does after a rotation.
func TestHashesArePerTenantAndPerKey(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte("defaults: {redaction: {classes: {email: hash}}}\ntenants: {acme: {}, globex: {}}\n"))
	require.NoError(t, err)
	keys := map[string][]byte{"k1": []byte("first-secret-0123456"), "k2": []byte("second-secret-012345")}
	r1, err := New(p, Options{HashKeys: keys, ActiveHashKey: "k1"})
	require.NoError(t, err)
	r2, err := New(p, Options{HashKeys: keys, ActiveHashKey: "k2"})
	require.NoError(t, err)

	const in = "mail ann@example.org"
	acme1, _ := redactFor(r1, "acme", in)
	globex1, _ := redactFor(r1, "globex", in)
	acme2, _ := redactFor(r2, "acme", in)
	none1, _ := redactFor(r1, "", in)
	for _, out := range []string{acme1, globex1, acme2, none1} {
		assert.Regexp(t, `^mail <hash:k[12]:[0-9a-f]{32}>$`, out)
	}
	assert.NotEqual(t, acme1, globex1, "two tenants' hashes of one value differ")
	assert.NotEqual(t, acme1, none1)
	assert.True(t, strings.HasPrefix(acme2, "mail <hash:k2:"), acme2)
	assert.NotEqual(t, strings.TrimPrefix(acme1, "mail <hash:k1:"), strings.TrimPrefix(acme2, "mail <hash:k2:"), "rotating the active key changes the output")
	again, _ := redactFor(r1, "acme", in)
	assert.Equal(t, acme1, again, "a hash is stable under one key")

	// After the rotation the processor writes k2 hashes only; k1's are
	// re-derived from k1's secret.
	old, err := Pseudonym(keys["k1"], "k1", "acme", "ann@example.org")
	require.NoError(t, err)
	assert.Equal(t, acme1, "mail "+old)
	old, err = Pseudonym(keys["k1"], "k1", "", "ann@example.org")
	require.NoError(t, err)
	assert.Equal(t, none1, "mail "+old)
}
