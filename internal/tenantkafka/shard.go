package tenantkafka

import (
	"context"
	"strconv"
	"strings"
)

// A tenant too large for one member is spread over shards (the router's
// kafka backend, spread:): its batches go round robin to shards
// 0..N-1, keyed tenant/shard. In its own topic shard s is partition s; in
// a shared topic the key spreads the shards over the partitions. Order
// holds within a shard only. The tenant's anomaly baselines are learnt on
// shard 0 alone, a fixed 1/N sample of its batches, so they stay one
// stream that follows one partition.

// MaxShards bounds a tenant's shards (partitions of its topic).
const MaxShards = 1024

// ShardKey is the record key of a spread tenant's shard; tenant ids hold
// no "/".
func ShardKey(tenant string, shard int32) string {
	return tenant + "/" + strconv.Itoa(int(shard))
}

// SplitKey reads a record key: its tenant, and its shard (0 for a key
// without one); false when a shard is there and is not one.
func SplitKey(key string) (tenant string, shard int32, ok bool) {
	tenant, s, found := strings.Cut(key, "/")
	if !found {
		return key, 0, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= MaxShards || strconv.Itoa(n) != s {
		return "", 0, false
	}
	return tenant, int32(n), true
}

type shardKey struct{}

// WithShard marks a batch read from a spread tenant's shard.
func WithShard(ctx context.Context, shard int32) context.Context {
	return context.WithValue(ctx, shardKey{}, shard)
}

// Sampled reports whether the tenant-level state (anomaly baselines)
// counts a batch: everything but a spread tenant's shards other than 0.
func Sampled(ctx context.Context) bool {
	s, _ := ctx.Value(shardKey{}).(int32)
	return s == 0
}
