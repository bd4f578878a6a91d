package tenantpolicyextension

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"

	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/identity"
)

func fromAddr(ip string) context.Context {
	return client.NewContext(context.Background(), client.Info{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: 50000}})
}

// Authenticate counts, per policy tenant, requests per credential, refusals
// that claimed it, and client addresses new after the learning period.
func TestAuthenticateCountsAccess(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) {
		c.TrustedHeader = TrustedHeaderConfig{Enabled: true, Name: "X-Tenant"}
		c.Access.LearningPeriod = 0
	})
	ok := func(ctx context.Context, src map[string][]string) {
		_, err := h.ext.Authenticate(ctx, src)
		require.NoError(t, err)
	}
	refused := func(src map[string][]string) {
		_, err := h.ext.Authenticate(fromAddr("10.9.9.9"), src)
		require.Error(t, err)
	}
	ok(fromAddr("127.0.0.1"), map[string][]string{"X-API-Key": {acmeKey}}) // first address: learnt
	ok(fromAddr("127.0.0.1"), map[string][]string{"X-API-Key": {acmeKey}})
	ok(fromAddr("127.0.0.2"), map[string][]string{"X-API-Key": {acmeKey}}) // new
	for range 5 {
		refused(map[string][]string{"X-API-Key": {"not-a-key-of-anyone-0001"}, "X-Tenant": {"acme"}})
	}
	refused(map[string][]string{"X-Tenant-Other": {"acme"}})                                        // no key, no claim: nobody's
	refused(map[string][]string{"X-API-Key": {"not-a-key-of-anyone-0001"}})                         // no claim: nobody's
	refused(map[string][]string{"X-API-Key": {globexKey}, "X-Tenant": {"acme"}})                    // globex's key claims acme: globex's spoof only
	refused(map[string][]string{"X-API-Key": {"not-a-key-0000000000001"}, "X-Tenant": {"initech"}}) // not a tenant

	c, found := h.ext.AccessCounts("acme")
	require.True(t, found)
	assert.Equal(t, access.Counts{Requests: 3, AuthFailures: 5, NewAddresses: 1, Addresses: 2}, c)
	g, _ := h.ext.AccessCounts("globex")
	assert.Equal(t, access.Counts{Spoofs: 1}, g)
	assert.Equal(t, []access.CredentialCounts{{ID: identity.KeyID(acmeKey), Requests: 3}}, h.ext.AccessCredentials("acme"))
	assert.Equal(t, []access.CredentialCounts{{ID: identity.KeyID(globexKey), Failures: 1}}, h.ext.AccessCredentials("globex"))
	_, found = h.ext.AccessCounts("initech")
	assert.False(t, found, "a tenant the policy does not declare is never keyed")
}

// Claims are counted in key mode too (the header is only a claim there),
// and addresses seen during the learning period are not new.
func TestAccessLearningPeriod(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) { c.Access.LearningPeriod = time.Hour })
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		_, err := h.ext.Authenticate(fromAddr(ip), map[string][]string{"X-API-Key": {acmeKey}})
		require.NoError(t, err)
	}
	_, err := h.ext.Authenticate(context.Background(), map[string][]string{"X-Scope-OrgID": {"acme"}})
	require.Error(t, err)
	c, _ := h.ext.AccessCounts("acme")
	assert.Equal(t, access.Counts{Requests: 3, AuthFailures: 1, Addresses: 3}, c)
}

// A hostile caller inventing tenant ids, keys and addresses keys nothing
// beyond the policy's tenants and their fixed address sets.
func TestAccessUnboundedGrowthAttack(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) { c.Access.AddressesPerTenant = 8 })
	for i := range 20_000 {
		_, _ = h.ext.Authenticate(fromAddr("10.0.0.1"), map[string][]string{
			"X-API-Key": {fmt.Sprintf("invented-key-%012d", i)}, "X-Scope-OrgID": {fmt.Sprintf("tenant-%d", i)}})
		_, err := h.ext.Authenticate(fromAddr(fmt.Sprintf("10.1.%d.%d", i>>8&255, i&255)), map[string][]string{"X-API-Key": {acmeKey}})
		require.NoError(t, err)
	}
	assert.Equal(t, 1, h.ext.access.Len())
	c, _ := h.ext.AccessCounts("acme")
	assert.Equal(t, 8, c.Addresses)
	assert.Len(t, h.ext.AccessCredentials("acme"), 1)
}

// The router's store reports reads of a tenant's store here; the connector
// reads them with the other access counts. Ids outside the policy are
// never keyed.
func TestCountStoreReads(t *testing.T) {
	h := start(t, readTestPolicy(t), nil)
	var sink access.StoreReadSink = h.ext
	sink.CountStoreReads("acme", 4, []string{"tenancyctl:alice"})
	sink.CountStoreReads("acme", 1, nil)
	sink.CountStoreReads("initech", 9, []string{"tenancyctl:mallory"}) // not in the test policy
	c, found := h.ext.AccessCounts("acme")
	require.True(t, found)
	assert.Equal(t, access.Counts{StoreReads: 5}, c)
	assert.Equal(t, []string{"tenancyctl:alice"}, h.ext.AccessStoreReaders("acme"))
	_, found = h.ext.AccessCounts("initech")
	assert.False(t, found)
}
