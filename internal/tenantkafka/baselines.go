package tenantkafka

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultGroupID is the processing tier's consumer group.
const DefaultGroupID = "tenancy-processing"

// DefaultBaselinesTopic is the compacted topic the processing tier keeps
// the tenants' anomaly baselines in. It starts with "_" after the dot, so
// no tenant topic template matches it.
const DefaultBaselinesTopic = "tenancy._baselines"

// BaselinesConfig is where a processing collector keeps the checkpoints
// that move with a tenant's partitions.
type BaselinesConfig struct {
	// ClientConfig: brokers, client_id, tls, sasl, dial_timeout.
	ClientConfig `mapstructure:",squash"`
	// GroupID is the consumer group of the tenantkafka receiver whose
	// partitions the baselines follow; "": tenancy-processing, the
	// receiver's default.
	GroupID string `mapstructure:"group_id"`
	// Topic is the compacted topic (cleanup.policy=compact, created on
	// first use); "": tenancy._baselines. Only the processing tier's
	// principal should be allowed to write it.
	Topic string `mapstructure:"topic"`
	// Partitions of the topic when it is created; 0: 16. A failover reads
	// each partition holding a moved tenant's key once.
	Partitions int32 `mapstructure:"partitions"`
	// ReplicationFactor when it is created; 0: the broker's default.
	ReplicationFactor int16 `mapstructure:"replication_factor"`
	// CacheBytes bounds the entries read from the topic and not yet
	// claimed; 0: 64 MiB. Least recently read partitions are forgotten
	// first, and read again when needed.
	CacheBytes int64 `mapstructure:"cache_bytes"`
}

// withDefaults fills the settings left 0 or empty.
func (c BaselinesConfig) withDefaults() BaselinesConfig {
	if c.Topic == "" {
		c.Topic = DefaultBaselinesTopic
	}
	if c.GroupID == "" {
		c.GroupID = DefaultGroupID
	}
	if c.Partitions == 0 {
		c.Partitions = 16
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = 64 << 20
	}
	return c
}

// Check checks the settings (see ClientConfig.Check for the name).
func (c *BaselinesConfig) Check() error {
	errs := []error{c.ClientConfig.Check()}
	if c.Topic != "" && !ValidTopic(c.Topic) {
		errs = append(errs, fmt.Errorf("topic: %q is not a valid Kafka topic name", c.Topic))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("partitions: %d is negative", c.Partitions))
	}
	if c.ReplicationFactor < 0 {
		errs = append(errs, errors.New("replication_factor: must not be negative"))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("cache_bytes: %d is negative", c.CacheBytes))
	}
	return errors.Join(errs...)
}

// Baselines is a key-value store on a compacted topic: the latest record
// of a key is its value. Get reads the key's partition once and keeps
// what it read until each key is claimed, so a member taking over
// thousands of tenants reads each partition once, not once per tenant.
//
// The cache stays right because only the owner of a tenant writes its
// key: after this member was assigned partitions (Invalidate), a cached
// partition is brought up to date (from where it was read to, not from
// the start) before its next Get; until then, nobody else writes the keys
// this member may claim.
type Baselines struct {
	cfg    BaselinesConfig
	opts   []kgo.Opt
	client *kgo.Client
	admin  *kadm.Client

	mu         sync.Mutex // one Get, Put or topic check at a time
	partitions int32      // of the topic; 0 until known
	parts      map[int32]*cachedPartition
	lru        *list.List // of *cachedPartition, least recently read at the back
	bytes      int64
	reads      int // partition reads, for tests
}

type cachedPartition struct {
	p       int32
	next    int64 // the offset after the last one read
	stale   bool  // an assignment happened since it was read
	entries map[string][]byte
	bytes   int64
	elem    *list.Element
}

// NewBaselines connects (lazily: no broker is needed until first use).
func NewBaselines(ctx context.Context, cfg BaselinesConfig) (*Baselines, error) {
	cfg = cfg.withDefaults()
	opts, err := cfg.ClientConfig.Opts(ctx)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return nil, err
	}
	return &Baselines{cfg: cfg, opts: opts, client: cl, admin: kadm.NewClient(cl), parts: map[int32]*cachedPartition{}, lru: list.New()}, nil
}

// Close closes the connection.
func (b *Baselines) Close() { b.client.Close() }

// Group is the consumer group whose partitions the baselines follow.
func (b *Baselines) Group() string { return b.cfg.GroupID }

// Entry is one key's value.
type Entry struct {
	Key   string
	Value []byte
}

// Put writes entries and returns once the broker has them all.
func (b *Baselines) Put(ctx context.Context, entries ...Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b.mu.Lock()
	_, err := b.topicLocked(ctx)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	recs := make([]*kgo.Record, len(entries))
	for i, e := range entries {
		recs[i] = &kgo.Record{Topic: b.cfg.Topic, Key: []byte(e.Key), Value: e.Value}
	}
	return b.client.ProduceSync(ctx, recs...).FirstErr()
}

// Invalidate marks every cached partition for a catch-up before its next
// Get: this member was assigned partitions, whose tenants' previous owner
// may have written their keys since they were read.
func (b *Baselines) Invalidate() {
	b.mu.Lock()
	for _, c := range b.parts {
		c.stale = true
	}
	b.mu.Unlock()
}

// Get returns key's latest value and forgets it (claimed: the caller owns
// the state now, and writes it from here on); false when the topic holds
// none.
func (b *Baselines) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.topicLocked(ctx)
	if err != nil {
		return nil, false, err
	}
	p := kgo.StickyKeyPartitioner(nil).ForTopic(b.cfg.Topic).Partition(&kgo.Record{Key: []byte(key)}, int(n))
	c := b.parts[int32(p)]
	if c == nil || c.stale {
		if c == nil {
			c = &cachedPartition{p: int32(p), entries: map[string][]byte{}}
			c.elem = b.lru.PushFront(c)
			b.parts[c.p] = c
		}
		if err := b.readLocked(ctx, c); err != nil {
			b.forgetLocked(c) // read again from the start next time
			return nil, false, err
		}
		b.evictLocked(c)
	}
	b.lru.MoveToFront(c.elem)
	v, ok := c.entries[key]
	if ok {
		delete(c.entries, key)
		c.bytes -= int64(len(key) + len(v))
		b.bytes -= int64(len(key) + len(v))
	}
	return v, ok, nil
}

// topicLocked returns the topic's partition count, creating it compacted
// on first use.
func (b *Baselines) topicLocked(ctx context.Context) (int32, error) {
	if b.partitions > 0 {
		return b.partitions, nil
	}
	rf := b.cfg.ReplicationFactor
	if rf == 0 {
		rf = -1
	}
	_, err := b.admin.CreateTopic(ctx, b.cfg.Partitions, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, b.cfg.Topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return 0, fmt.Errorf("create topic %s: %w", b.cfg.Topic, err)
	}
	td, err := b.admin.ListTopics(ctx, b.cfg.Topic)
	if err != nil {
		return 0, fmt.Errorf("describe topic %s: %w", b.cfg.Topic, err)
	}
	d, ok := td[b.cfg.Topic]
	if !ok || d.Err != nil || len(d.Partitions) == 0 {
		return 0, fmt.Errorf("describe topic %s: %v", b.cfg.Topic, d.Err)
	}
	b.partitions = int32(len(d.Partitions))
	return b.partitions, nil
}

// readLocked reads c's partition from where it was read to up to its
// current end.
func (b *Baselines) readLocked(ctx context.Context, c *cachedPartition) error {
	ends, err := b.admin.ListEndOffsets(ctx, b.cfg.Topic)
	if err != nil {
		return err
	}
	end, ok := ends.Lookup(b.cfg.Topic, c.p)
	if !ok || end.Err != nil {
		return fmt.Errorf("end offset of %s/%d: %v", b.cfg.Topic, c.p, end.Err)
	}
	c.stale = false
	if end.Offset <= c.next {
		return nil
	}
	b.reads++
	cl, err := kgo.NewClient(append(b.opts[:len(b.opts):len(b.opts)],
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{b.cfg.Topic: {c.p: kgo.NewOffset().At(c.next)}}))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	for c.next < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := string(r.Key)
			if old, had := c.entries[k]; had {
				c.bytes -= int64(len(k) + len(old))
				b.bytes -= int64(len(k) + len(old))
			}
			if r.Value == nil { // a tombstone: the key was deleted
				delete(c.entries, k)
			} else {
				c.entries[k] = r.Value
				c.bytes += int64(len(k) + len(r.Value))
				b.bytes += int64(len(k) + len(r.Value))
			}
			c.next = r.Offset + 1
		})
	}
	return nil
}

// evictLocked forgets the least recently read partitions other than keep
// while the cache is over its bound.
func (b *Baselines) evictLocked(keep *cachedPartition) {
	for e := b.lru.Back(); e != nil && b.bytes > b.cfg.CacheBytes; {
		prev := e.Prev()
		if c := e.Value.(*cachedPartition); c != keep {
			b.forgetLocked(c)
		}
		e = prev
	}
}

func (b *Baselines) forgetLocked(c *cachedPartition) {
	b.bytes -= c.bytes
	b.lru.Remove(c.elem)
	delete(b.parts, c.p)
}
