package tenantkafka

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitKey(t *testing.T) {
	for _, tc := range []struct {
		key, tenant string
		shard       int32
		ok          bool
	}{
		{"acme", "acme", 0, true},
		{ShardKey("acme", 0), "acme", 0, true},
		{ShardKey("acme", 7), "acme", 7, true},
		{"acme/x", "", 0, false},
		{"acme/-1", "", 0, false},
		{"acme/07", "", 0, false},
		{"acme/1024", "", 0, false},
		{"acme/1/2", "", 0, false},
	} {
		tenant, shard, ok := SplitKey(tc.key)
		assert.Equal(t, tc.ok, ok, tc.key)
		assert.Equal(t, tc.tenant, tenant, tc.key)
		assert.Equal(t, tc.shard, shard, tc.key)
	}
}

func TestSampled(t *testing.T) {
	ctx := context.Background()
	assert.True(t, Sampled(ctx))
	assert.True(t, Sampled(WithShard(ctx, 0)))
	assert.False(t, Sampled(WithShard(ctx, 3)))
}
