package tenantpolicyextension

import (
	"fmt"
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

// The client address is the transport's: forwarding headers a client
// writes are not read, so they neither add addresses nor make a tenant's
// new-address rule fire; an IPv4 client seen through an IPv4-mapped IPv6
// socket is one address; churning IPv6 addresses (a /64 holds 2^64) fills
// only the tenant's fixed set.
func TestAccessAddressIsTheTransportsAndBounded(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) {
		c.Access.LearningPeriod = 0
		c.Access.AddressesPerTenant = 8
	})
	auth := func(ip string, extra map[string][]string) {
		src := map[string][]string{"X-API-Key": {acmeKey}}
		for k, v := range extra {
			src[k] = v
		}
		_, err := h.ext.Authenticate(fromAddr(ip), src)
		require.NoError(t, err)
	}
	for i := range 1000 {
		ip := fmt.Sprintf("203.0.%d.%d", i>>8&255, i&255)
		auth("127.0.0.1", map[string][]string{"X-Forwarded-For": {ip}, "X-Real-Ip": {ip}, "Forwarded": {"for=" + ip}})
	}
	auth("::ffff:127.0.0.1", nil)
	c, _ := h.ext.AccessCounts("acme")
	assert.Equal(t, access.Counts{Requests: 1001, Addresses: 1}, c)

	for i := range 20_000 {
		auth(fmt.Sprintf("2001:db8::%x:%x", i>>16, i&0xffff), nil)
	}
	c, _ = h.ext.AccessCounts("acme")
	assert.Equal(t, 8, c.Addresses)
	assert.Equal(t, uint64(20_000), c.NewAddresses)
}
