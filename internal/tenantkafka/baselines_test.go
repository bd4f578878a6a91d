package tenantkafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

func newTestBaselines(t *testing.T, broker string, mutate func(*BaselinesConfig)) *Baselines {
	t.Helper()
	var cfg BaselinesConfig
	cfg.Brokers = []string{broker}
	cfg.Partitions = 4
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Check())
	b, err := NewBaselines(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(b.Close)
	return b
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestBaselinesHandOver: one member writes checkpoints; another, taking
// over, reads each key's latest value, reading each partition once for
// many keys; a key is forgotten once claimed; what the previous owner
// writes after an assignment is caught up on (from where the partition was
// read to), not missed.
func TestBaselinesHandOver(t *testing.T) {
	broker := peertest.StartKafka(t)
	old, next := newTestBaselines(t, broker, nil), newTestBaselines(t, broker, nil)
	ctx := timeout(t)

	var entries []Entry
	for i := range 200 {
		entries = append(entries, Entry{Key: fmt.Sprintf("tenant%03d/logs", i), Value: []byte(fmt.Sprintf("v1-%d", i))})
	}
	require.NoError(t, old.Put(ctx, entries...))
	// A newer checkpoint of one key: the latest wins.
	require.NoError(t, old.Put(ctx, Entry{Key: "tenant007/logs", Value: []byte("v2-7")}))

	cfgs, err := kadm.NewClient(old.client).DescribeTopicConfigs(ctx, DefaultBaselinesTopic)
	require.NoError(t, err)
	policy, err := cfgs.On(DefaultBaselinesTopic, nil)
	require.NoError(t, err)
	compact := false
	for _, c := range policy.Configs {
		compact = compact || c.Key == "cleanup.policy" && c.Value != nil && *c.Value == "compact"
	}
	assert.True(t, compact, "the topic is compacted")

	for i := range 200 {
		v, ok, err := next.Get(ctx, fmt.Sprintf("tenant%03d/logs", i))
		require.NoError(t, err)
		require.True(t, ok, "tenant%03d", i)
		want := fmt.Sprintf("v1-%d", i)
		if i == 7 {
			want = "v2-7"
		}
		assert.Equal(t, want, string(v))
	}
	assert.Equal(t, 4, next.reads, "200 keys over 4 partitions: each partition read once")
	assert.Zero(t, next.bytes, "every entry claimed, none kept")

	_, ok, err := next.Get(ctx, "nobody/logs")
	require.NoError(t, err)
	assert.False(t, ok)

	// The old owner hands tenant042 over later (a revoke): after the
	// assignment that follows, the new owner sees it.
	require.NoError(t, old.Put(ctx, Entry{Key: "tenant042/metrics", Value: []byte("handed")}))
	next.Invalidate()
	v, ok, err := next.Get(ctx, "tenant042/metrics")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "handed", string(v))
	assert.Equal(t, 5, next.reads, "one catch-up read of one partition")
}

// TestBaselinesCacheBound: entries read and not claimed stay within
// cache_bytes; a forgotten partition is read again when needed.
func TestBaselinesCacheBound(t *testing.T) {
	broker := peertest.StartKafka(t)
	w := newTestBaselines(t, broker, nil)
	r := newTestBaselines(t, broker, func(c *BaselinesConfig) { c.CacheBytes = 10 << 10 })
	ctx := timeout(t)
	value := make([]byte, 1000)
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("t%02d/traces", i))
		require.NoError(t, w.Put(ctx, Entry{Key: keys[i], Value: value}))
	}
	// One key per partition read; 40 KB over 4 partitions, 10 KB bound.
	p := kgo.StickyKeyPartitioner(nil).ForTopic(DefaultBaselinesTopic)
	seen := map[int]string{}
	var order []string // the key read first in each partition, in read order
	for _, k := range keys {
		part := p.Partition(&kgo.Record{Key: []byte(k)}, 4)
		if _, ok := seen[part]; !ok {
			seen[part] = k
			order = append(order, k)
			_, ok, err := r.Get(ctx, k)
			require.NoError(t, err)
			require.True(t, ok)
			// The partition just read may exceed the bound alone, the
			// others are forgotten.
			assert.LessOrEqual(t, len(r.parts), 1+boolInt(r.bytes > r.cfg.CacheBytes))
		}
	}
	require.Len(t, seen, 4)
	reads, first := r.reads, order[0]
	// A second key of the first partition read: forgotten, read again.
	for _, k := range keys {
		if k != first && p.Partition(&kgo.Record{Key: []byte(k)}, 4) == p.Partition(&kgo.Record{Key: []byte(first)}, 4) {
			_, ok, err := r.Get(ctx, k)
			require.NoError(t, err)
			assert.True(t, ok)
			break
		}
	}
	assert.Equal(t, reads+1, r.reads)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestBaselinesConfigCheck(t *testing.T) {
	var cfg BaselinesConfig
	err := cfg.Check()
	assert.ErrorContains(t, err, "brokers")
	cfg.Brokers = []string{"127.0.0.1:9092"}
	require.NoError(t, cfg.Check(), "zeros are the defaults")
	cfg.Topic, cfg.Partitions, cfg.CacheBytes = "bad topic", -1, -1
	err = cfg.Check()
	for _, want := range []string{"topic", "partitions", "cache_bytes"} {
		assert.ErrorContains(t, err, want)
	}
}
