package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

func TestKeyPrefixIdentifiers(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(`tenants:
  acme: {identifiers: ['acme_live_k*', 'AK-ACME-*', acme.example]}
  globex: {identifiers: [globex_key, globex.example]}
`))
	require.NoError(t, err)
	r, err := New(p, Options{})
	require.NoError(t, err)
	const F = "<redacted:foreign_tenant>"
	tests := []struct{ owner, in, want string }{
		{"globex", "key acme_live_k9f2c41ab07 used", "key " + F + " used"},
		{"globex", "key=ACME_LIVE_K9F2C41AB07&x=1", "key=" + F + "&x=1"},
		{"globex", "token ak-acme-77XY_q.z9 expired", "token " + F + " expired"},
		{"globex", "bare acme_live_k alone", "bare " + F + " alone"},
		// A boundary is still wanted before the prefix.
		{"globex", "xacme_live_k9 stays", "xacme_live_k9 stays"},
		// An exact identifier still wants a boundary after it.
		{"acme", "globex_keyring and globex_key", "globex_keyring and " + F},
		{"acme", "own acme_live_k9f2c41ab07 stays", "own acme_live_k9f2c41ab07 stays"},
		{"", "acme_live_kZZ", F},
	}
	for _, tc := range tests {
		got, _ := redactFor(r, tc.owner, tc.in)
		assert.Equal(t, tc.want, got, "owner %q input %q", tc.owner, tc.in)
	}
}
