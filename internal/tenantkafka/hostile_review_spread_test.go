package tenantkafka

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestShardKeyNamesOneTenant: in a shared topic the record key is the
// tenant, so a key must read back as the tenant the edge's router wrote
// it for, whoever the tenant: no policy tenant's key, plain or sharded,
// reads as another tenant's or another shard's. It holds because a
// tenant id cannot hold "/" (the attack of the hostile review, a tenant
// named "acme/0" whose batches would count as acme's shard 0, needs
// one); the test fails if the id rules ever allow it.
func TestShardKeyNamesOneTenant(t *testing.T) {
	require.Error(t, policy.ValidateTenantID("acme/0"), "a tenant id holds no /")
	rng := rand.New(rand.NewPCG(7, 8))
	var chars []byte
	for c := 1; c < 256; c++ {
		if policy.ValidateTenantID("a"+string(rune(c))) == nil && c < 128 {
			chars = append(chars, byte(c))
		}
	}
	require.NotContains(t, string(chars), "/")
	for range 5000 {
		b := make([]byte, 1+rng.IntN(20))
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		id := string(b)
		if policy.ValidateTenantID(id) != nil {
			continue
		}
		tenant, shard, ok := SplitKey(id)
		assert.True(t, ok, id)
		assert.Equal(t, id, tenant)
		assert.Zero(t, shard, id)
		s := int32(rng.IntN(MaxShards))
		tenant, shard, ok = SplitKey(ShardKey(id, s))
		assert.True(t, ok, id)
		assert.Equal(t, id, tenant)
		assert.Equal(t, s, shard, id)
	}
}
