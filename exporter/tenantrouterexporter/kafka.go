package tenantrouterexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// KafkaConfig (kafka) is the broker connection and the producer. The edge
// writes each tenant batch as one OTLP protobuf message keyed by the
// tenant id, so one tenant's records stay in one partition, in order.
type KafkaConfig struct {
	// ClientConfig: brokers, client_id, tls, sasl, dial_timeout.
	tenantkafka.ClientConfig `mapstructure:",squash"`
	// Topic is the template of a tenant's topic: {tenant} and {signal}
	// (default tenancy.{tenant}.{signal}, a topic per tenant and signal,
	// with the tenant's retention). Without {tenant} there is one topic per
	// signal, shared, keyed by tenant, on the broker's retention.
	Topic string `mapstructure:"topic"`
	// ReservedTopic is the template of the pipeline tenants' topics
	// (_quarantine, _governance); it must hold {tenant}, so they never
	// share a topic with a tenant.
	ReservedTopic string `mapstructure:"reserved_topic"`
	// Partitions of a topic the backend creates; 0: 1 for a tenant's own
	// topic (its key sends all of it to one partition anyway), 16 for a
	// shared one.
	Partitions int32 `mapstructure:"partitions"`
	// ReplicationFactor of a topic the backend creates; 0: the broker's
	// default.
	ReplicationFactor int16 `mapstructure:"replication_factor"`
	// RequiredAcks is all (default), leader or none. Only all keeps an
	// acknowledged batch through a broker's loss.
	RequiredAcks string `mapstructure:"required_acks"`
	// Idempotent (default true) makes the broker drop a retried
	// duplicate; it needs required_acks all.
	Idempotent bool `mapstructure:"idempotent"`
	// Compression of record batches: none (default), gzip, snappy, lz4
	// or zstd.
	Compression string `mapstructure:"compression"`
	// MaxMessageBytes bounds one message; a larger batch is split by
	// resource (default 1000000, the broker's message.max.bytes).
	MaxMessageBytes int `mapstructure:"max_message_bytes"`
	// Spread names the tenants too large for one processing member, each
	// with its shard count (2 to 1024): its batches go round robin to the
	// shards, keyed tenant/shard; its own topic gets that many partitions
	// (shard s is partition s). Its records stay in order within a shard
	// only, and its anomaly baselines are learnt on shard 0 alone (a 1/N
	// sample).
	Spread map[string]int32 `mapstructure:"spread"`
}

// Defaults of a kafka backend.
const (
	DefaultKafkaMaxMessageBytes     = 1_000_000
	defaultKafkaSharedPartitions    = 16
	defaultKafkaPerTenantPartitions = 1
)

func defaultKafkaConfig() KafkaConfig {
	return KafkaConfig{Topic: tenantkafka.DefaultTopic, ReservedTopic: tenantkafka.DefaultReservedTopic,
		RequiredAcks: "all", Idempotent: true, MaxMessageBytes: DefaultKafkaMaxMessageBytes}
}

var kafkaCompressions = []string{"", "none", "gzip", "snappy", "lz4", "zstd"}

func (k *KafkaConfig) validate() []error {
	var errs []error
	if err := k.ClientConfig.Check(); err != nil {
		for _, e := range unjoin(err) {
			errs = append(errs, fmt.Errorf("kafka.%w", e))
		}
	}
	if _, err := tenantkafka.NewTopics(k.Topic); err != nil {
		errs = append(errs, fmt.Errorf("kafka.topic: %w", err))
	}
	if t, err := tenantkafka.NewTopics(k.ReservedTopic); err != nil {
		errs = append(errs, fmt.Errorf("kafka.reserved_topic: %w", err))
	} else if !t.PerTenant() {
		errs = append(errs, fmt.Errorf("kafka.reserved_topic: %q must hold %s: the pipeline tenants never share a topic", k.ReservedTopic, tenantkafka.PlaceholderTenant))
	}
	switch k.RequiredAcks {
	case "all":
	case "leader", "none":
		if k.Idempotent {
			errs = append(errs, fmt.Errorf("kafka.idempotent: needs required_acks all, found %s (set idempotent: false)", k.RequiredAcks))
		}
	default:
		errs = append(errs, fmt.Errorf("kafka.required_acks: must be all, leader or none, found %q", k.RequiredAcks))
	}
	if !slices.Contains(kafkaCompressions, k.Compression) {
		errs = append(errs, fmt.Errorf("kafka.compression: must be none, gzip, snappy, lz4 or zstd, found %q", k.Compression))
	}
	if k.Partitions < 0 {
		errs = append(errs, errors.New("kafka.partitions: must not be negative"))
	}
	if k.ReplicationFactor < 0 {
		errs = append(errs, errors.New("kafka.replication_factor: must not be negative"))
	}
	if k.MaxMessageBytes <= 0 {
		errs = append(errs, errors.New("kafka.max_message_bytes: must be positive"))
	}
	for _, tenant := range sortedKeys(k.Spread) {
		if err := policy.ValidateTenantID(tenant); err != nil || policy.IsReserved(tenant) {
			errs = append(errs, fmt.Errorf("kafka.spread.%s: not a policy tenant's id", tenant))
		}
		if n := k.Spread[tenant]; n < 2 || n > tenantkafka.MaxShards {
			errs = append(errs, fmt.Errorf("kafka.spread.%s: %d shards, want 2 to %d", tenant, n, tenantkafka.MaxShards))
		}
	}
	return errs
}

// unjoin lists the errors errors.Join made, so each gets its key prefix.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// kafkaBackend produces each tenant batch to its topic, creating the topic
// on first use with the tenant's retention and keeping retention.ms in
// step with the policy.
type kafkaBackend struct {
	name     string
	cfg      *BackendConfig
	topics   tenantkafka.Topics
	reserved tenantkafka.Topics
	router   *router
	client   *kgo.Client
	admin    *kadm.Client

	mu sync.Mutex
	// retention is each topic's retention.ms as last set (-1: the
	// broker's); a topic is created or altered when the policy's differs.
	retention map[string]int64
	// next is each spread tenant's next shard.
	next map[string]int32
}

func newKafkaBackend(name string, cfg *BackendConfig) (*kafkaBackend, error) {
	topics, err := tenantkafka.NewTopics(cfg.Kafka.Topic)
	if err != nil {
		return nil, err
	}
	reserved, err := tenantkafka.NewTopics(cfg.Kafka.ReservedTopic)
	if err != nil {
		return nil, err
	}
	return &kafkaBackend{name: name, cfg: cfg, topics: topics, reserved: reserved, retention: map[string]int64{}, next: map[string]int32{}}, nil
}

func (k *kafkaBackend) start(ctx context.Context, _ component.Host, r *router) error {
	kc := &k.cfg.Kafka
	opts, err := kc.ClientConfig.Opts(ctx)
	if err != nil {
		return fmt.Errorf("backends.%s.kafka.%w", k.name, err)
	}
	timeout := r.cfg.Timeout
	if k.cfg.Timeout > 0 {
		timeout = k.cfg.Timeout
	}
	opts = append(opts,
		// The key decides the partition: a tenant's records stay in one
		// (a spread tenant's, in one per shard).
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(k.partitioner)),
		// Room for the key and headers around a value at the bound.
		kgo.ProducerBatchMaxBytes(int32(kc.MaxMessageBytes)+16<<10),
		// The router's queue retries with its own backoff; a produce ends
		// with the send's timeout.
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProduceRequestTimeout(timeout),
	)
	switch kc.RequiredAcks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !kc.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	switch kc.Compression {
	case "gzip":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.GzipCompression()))
	case "snappy":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.SnappyCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	case "zstd":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	default:
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	}
	c, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("backends.%s.kafka: %w", k.name, err)
	}
	k.client, k.admin, k.router = c, kadm.NewClient(c), r
	return nil
}

func (k *kafkaBackend) shutdown(context.Context) error {
	if k.client != nil {
		k.client.Close()
	}
	return nil
}

func (k *kafkaBackend) send(ctx context.Context, tenant string, b batch) error {
	topics := k.topics
	if pipelineTenant(tenant) {
		topics = k.reserved
	}
	topic, err := topics.Topic(tenant, b.signal)
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	if err := k.ensureTopic(ctx, topic, k.retentionMs(topics, tenant, b.signal), k.partitions(topics, tenant)); err != nil {
		return kafkaError(fmt.Errorf("topic %s: %w", topic, err))
	}
	recs, err := k.records(topic, tenant, b)
	if err != nil {
		return err
	}
	return kafkaError(k.client.ProduceSync(ctx, recs...).FirstErr())
}

// retentionMs is the retention.ms a topic gets: the tenant's (see
// tenantkafka.RetentionMs) for its own topic, -1 (the broker's) for a topic
// tenants share.
func (k *kafkaBackend) retentionMs(topics tenantkafka.Topics, tenant string, sig policy.Signal) int64 {
	if !topics.PerTenant() {
		return -1
	}
	return tenantkafka.RetentionMs(k.router.provider.Policy(), tenant, sig)
}

// partitions is the partition count a topic of tenant's is created with.
func (k *kafkaBackend) partitions(topics tenantkafka.Topics, tenant string) int32 {
	if !topics.PerTenant() {
		if k.cfg.Kafka.Partitions > 0 {
			return k.cfg.Kafka.Partitions
		}
		return defaultKafkaSharedPartitions
	}
	n := k.cfg.Kafka.Partitions
	if n == 0 {
		n = defaultKafkaPerTenantPartitions
	}
	return max(n, k.cfg.Kafka.Spread[tenant])
}

// partitioner places shard s on partition s of the tenant's own topic,
// and a tenant that is not spread (its key has no shard) on partition 0,
// its shard 0: the receiver reads partition p of a tenant's topic as shard
// p, and only shard 0 feeds the tenant's baselines. In a shared topic
// every key goes by its hash, as franz-go's default does.
func (k *kafkaBackend) partitioner(topic string) func(*kgo.Record, int) int {
	hash := kgo.StickyKeyPartitioner(nil).ForTopic(topic)
	return func(r *kgo.Record, n int) int {
		if k.topics.PerTenant() {
			if _, shard, ok := tenantkafka.SplitKey(string(r.Key)); ok {
				return int(shard) % n
			}
		}
		return hash.Partition(r, n)
	}
}

// key is the record key of tenant's next message: the tenant, or for a
// spread tenant its next shard's key.
func (k *kafkaBackend) key(tenant string) []byte {
	n := k.cfg.Kafka.Spread[tenant]
	if n < 2 || pipelineTenant(tenant) {
		return []byte(tenant)
	}
	k.mu.Lock()
	shard := k.next[tenant]
	k.next[tenant] = (shard + 1) % n
	k.mu.Unlock()
	return []byte(tenantkafka.ShardKey(tenant, shard))
}

// ensureTopic creates topic on first use with partitions, or sets its
// retention.ms when the topic exists already (made by another edge, or
// before a restart) or the policy changed it; an existing topic with fewer
// partitions than a spread tenant's shards gets more.
func (k *kafkaBackend) ensureTopic(ctx context.Context, topic string, retention int64, partitions int32) error {
	k.mu.Lock()
	have, known := k.retention[topic]
	k.mu.Unlock()
	if known && have == retention {
		return nil
	}
	var value *string
	if retention > 0 {
		value = kadm.StringPtr(strconv.FormatInt(retention, 10))
	}
	if !known {
		rf := k.cfg.Kafka.ReplicationFactor
		if rf == 0 {
			rf = -1
		}
		var configs map[string]*string
		if value != nil {
			configs = map[string]*string{"retention.ms": value}
		}
		_, err := k.admin.CreateTopic(ctx, partitions, rf, configs, topic)
		if err == nil {
			k.setRetention(topic, retention)
			return nil
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) {
			return err
		}
		if err := k.growTopic(ctx, topic, partitions); err != nil {
			return err
		}
	}
	op := kadm.SetConfig
	if value == nil {
		op = kadm.DeleteConfig // back to the broker's
	}
	resp, err := k.admin.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: op, Name: "retention.ms", Value: value}}, topic)
	if err == nil {
		_, err = resp.On(topic, nil)
	}
	if err == nil {
		for _, r := range resp {
			err = errors.Join(err, r.Err)
		}
	}
	if err != nil {
		return fmt.Errorf("set retention.ms: %w", err)
	}
	k.setRetention(topic, retention)
	return nil
}

// growTopic raises an existing topic's partitions to at least n.
func (k *kafkaBackend) growTopic(ctx context.Context, topic string, n int32) error {
	if n <= defaultKafkaPerTenantPartitions {
		return nil
	}
	td, err := k.admin.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	if d, ok := td[topic]; ok && d.Err == nil && int32(len(d.Partitions)) >= n {
		return nil
	}
	resp, err := k.admin.UpdatePartitions(ctx, int(n), topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return fmt.Errorf("grow to %d partitions: %w", n, err)
	}
	return nil
}

func (k *kafkaBackend) setRetention(topic string, ms int64) {
	k.mu.Lock()
	k.retention[topic] = ms
	k.mu.Unlock()
}

// records is the batch as messages under max_message_bytes, halved by
// resource until each fits. A single resource over the bound is refused
// for good: the broker would refuse it every time.
func (k *kafkaBackend) records(topic, tenant string, b batch) ([]*kgo.Record, error) {
	// Sized before it is marshaled (an export request is its data's
	// size): only the halves that fit are, not every level above them.
	if size := b.size(); size > int64(k.cfg.Kafka.MaxMessageBytes) {
		l, r, ok := b.halves()
		if !ok {
			return nil, consumererror.NewPermanent(fmt.Errorf("one resource is %d bytes as OTLP, over max_message_bytes %d", size, k.cfg.Kafka.MaxMessageBytes))
		}
		left, err := k.records(topic, tenant, l)
		if err != nil {
			return nil, err
		}
		right, err := k.records(topic, tenant, r)
		return append(left, right...), err
	}
	body, err := b.otlpProto()
	if err != nil {
		return nil, consumererror.NewPermanent(err)
	}
	if b.buf != nil {
		// Reused memory is another tenant's request once the queue lets
		// go, and franz-go may still hold a record's value then (a
		// produce that timed out is retried from its buffer). route does
		// not pool batches a Kafka backend may take; this makes sure.
		body = bytes.Clone(body)
	}
	headers := []kgo.RecordHeader{
		{Key: tenantkafka.HeaderTenant, Value: []byte(tenant)},
		{Key: tenantkafka.HeaderSignal, Value: []byte(b.signal)},
		{Key: tenantkafka.HeaderPolicyVersion, Value: []byte(b.policyVersion)},
	}
	if fp := b.fingerprint(); fp != "" {
		headers = append(headers, kgo.RecordHeader{Key: tenantkafka.HeaderFingerprint, Value: []byte(fp)})
	}
	return []*kgo.Record{{Topic: topic, Key: k.key(tenant), Value: body, Headers: headers}}, nil
}

// fingerprint is the tenant.fingerprint the tenant processor stamped on
// the batch's resources (one tenant, one fingerprint); "" when absent.
func (b batch) fingerprint() string {
	var attrs pcommon.Map
	switch {
	case b.signal == policy.SignalLogs && b.logs.ResourceLogs().Len() > 0:
		attrs = b.logs.ResourceLogs().At(0).Resource().Attributes()
	case b.signal == policy.SignalMetrics && b.metrics.ResourceMetrics().Len() > 0:
		attrs = b.metrics.ResourceMetrics().At(0).Resource().Attributes()
	case b.signal == policy.SignalTraces && b.traces.ResourceSpans().Len() > 0:
		attrs = b.traces.ResourceSpans().At(0).Resource().Attributes()
	default:
		return ""
	}
	if v, ok := attrs.Get(identity.AttrFingerprint); ok {
		return v.Str()
	}
	return ""
}

// halves splits a batch of two or more resources into two, copies (the
// queue may retry b). records and bytes stay b's: the halves are only
// marshaled (b's marshaled form is not theirs).
func (b batch) halves() (batch, batch, bool) {
	b.proto, b.buf = nil, nil
	l, r := b, b
	ok := false
	switch b.signal {
	case policy.SignalLogs:
		l.logs, r.logs, ok = halve[plog.Logs, plog.ResourceLogsSlice](b.logs, plog.Logs.ResourceLogs, plog.NewLogs)
	case policy.SignalMetrics:
		l.metrics, r.metrics, ok = halve[pmetric.Metrics, pmetric.ResourceMetricsSlice](b.metrics, pmetric.Metrics.ResourceMetrics, pmetric.NewMetrics)
	case policy.SignalTraces:
		l.traces, r.traces, ok = halve[ptrace.Traces, ptrace.ResourceSpansSlice](b.traces, ptrace.Traces.ResourceSpans, ptrace.NewTraces)
	}
	return l, r, ok
}

// halve copies the first half of src's resources into one new batch and
// the rest into another; false with fewer than two.
func halve[B any, S interface {
	Len() int
	At(int) R
	AppendEmpty() R
}, R interface{ CopyTo(R) }](src B, of func(B) S, newBatch func() B) (B, B, bool) {
	rs := of(src)
	if rs.Len() < 2 {
		return src, src, false
	}
	l, r := newBatch(), newBatch()
	for i := range rs.Len() {
		dst := l
		if i >= rs.Len()/2 {
			dst = r
		}
		rs.At(i).CopyTo(of(dst).AppendEmpty())
	}
	return l, r, true
}

// kafkaError keeps what the broker will refuse every time permanent (an
// invalid topic, a message too large, a denied write) and lets the queue
// retry the rest (a broker down, a leader moving, a timeout).
func kafkaError(err error) error {
	if err == nil {
		return nil
	}
	var ke *kerr.Error
	if errors.As(err, &ke) && !ke.Retriable && !errors.Is(err, kerr.TopicAlreadyExists) {
		return consumererror.NewPermanent(err)
	}
	return err
}
