package tenantpolicyextension

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/identity"
)

// A request that a valid key proved to be globex's, naming acme in the
// header, is globex's spoof attempt and not an authentication failure of
// acme's: counted for acme, globex could fire acme's access.auth_failures
// alert at will, and acme's record would name nobody while the sender is
// known (the threat model's rule 11: a proven sender is charged, the claim
// only where no credential proved anyone).
func TestSpoofIsChargedToTheSenderNotTheClaimed(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) {
		c.TrustedHeader = TrustedHeaderConfig{Enabled: true, Name: "X-Tenant"}
	})
	for range 50 {
		_, err := h.ext.Authenticate(fromAddr("10.1.1.1"), map[string][]string{"X-API-Key": {globexKey}, "X-Tenant": {"acme"}})
		require.Error(t, err)
	}
	a, _ := h.ext.AccessCounts("acme")
	assert.Zero(t, a.AuthFailures, "globex's proven requests are not acme's failures")
	g, found := h.ext.AccessCounts("globex")
	require.True(t, found)
	assert.Equal(t, access.Counts{Spoofs: 50}, g)
	assert.Equal(t, []access.CredentialCounts{{ID: identity.KeyID(globexKey), Failures: 50}}, h.ext.AccessCredentials("globex"),
		"the spoof names the credential that sent it")
}
