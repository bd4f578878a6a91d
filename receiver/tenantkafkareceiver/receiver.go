package tenantkafkareceiver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/selfmetrics"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

// Reasons a message is committed without reaching the pipeline.
const (
	reasonUndecodable = "undecodable" // not OTLP protobuf of the topic's signal
	reasonNoTenant    = "no_tenant"   // a shared topic's record without a key
	// reasonInvalidTenant: the topic or key names no tenant id the policy
	// could hold (a path, a space, 4 KiB), or, in reserved mode, no
	// pipeline tenant. Anyone who can write the topic writes the key, so
	// such a name becomes neither a series label nor a vouched identity.
	reasonInvalidTenant = "invalid_tenant"
	reasonPermanent     = "permanent" // the pipeline refused it for good
	// reasonTooLarge: a record batch that decompresses past
	// maxDecompressBatchBytes, skipped whole (counted once per batch).
	reasonTooLarge = "too_large"
)

// undeclaredTenant is the records series' tenant for an id the policy
// does not declare (the tenant processor quarantines its records), so
// the series and the maps behind them stay bounded by the policy: a key
// per record would otherwise add a series, and a map entry, for the
// process's life (hostile review h28x).
const undeclaredTenant = "_undeclared"

// maxDecompressBatchBytes bounds what one fetched record batch may
// decompress to. Anyone who can write a topic chooses its compression: a
// batch of zeros within the broker's 1 MB message bound would otherwise
// decompress to franz-go's default of 1 GiB, once per partition in a
// fetch. The edge's batches are about max_message_bytes.
var maxDecompressBatchBytes = 64 << 20

type recordsKey struct {
	tenant string
	signal policy.Signal
}

type kafkaReceiver struct {
	cfg    *Config
	id     component.ID
	logger *zap.Logger
	topics tenantkafka.Topics

	logs    consumer.Logs
	metrics consumer.Metrics
	traces  consumer.Traces

	// policy serves the declared tenants (set at Start, outside reserved
	// mode); nil, none is declared.
	policy policy.Provider

	client *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	tb      *metadata.TelemetryBuilder
	records selfmetrics.Series[recordsKey, atomic.Int64]
	dropped selfmetrics.Series[string, atomic.Int64]
	// assigned counts partitions this member was given, for tests.
	assigned atomic.Int64

	// seenMu guards seen: with one topic per signal, the tenants read
	// from each partition since it was assigned, the streams it carries.
	seenMu sync.Mutex
	seen   map[topicPartition]map[string]struct{}
}

func newReceiver(cfg *Config, set receiver.Settings) (*kafkaReceiver, error) {
	topics, err := tenantkafka.NewTopics(cfg.Topic)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	r := &kafkaReceiver{cfg: cfg, id: set.ID, logger: set.Logger, topics: topics, tb: tb}
	err = errors.Join(
		tb.RegisterTenantkafkaRecordsCallback(func(_ context.Context, o metric.Int64Observer) error {
			r.records.Range(func(k recordsKey, n *atomic.Int64) {
				selfmetrics.ObserveNonZero(o, n, attribute.String("tenant", k.tenant), attribute.String("signal", string(k.signal)))
			})
			return nil
		}),
		tb.RegisterTenantkafkaDroppedCallback(func(_ context.Context, o metric.Int64Observer) error {
			r.dropped.Range(func(reason string, n *atomic.Int64) {
				selfmetrics.ObserveNonZero(o, n, attribute.String("reason", reason))
			})
			return nil
		}))
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return r, nil
}

// signals are those a pipeline takes from this receiver: only their
// topics are consumed, so no message is committed for want of a consumer.
func (r *kafkaReceiver) signals() []policy.Signal {
	var s []policy.Signal
	if r.logs != nil {
		s = append(s, policy.SignalLogs)
	}
	if r.metrics != nil {
		s = append(s, policy.SignalMetrics)
	}
	if r.traces != nil {
		s = append(s, policy.SignalTraces)
	}
	return s
}

// Start joins the group; sharedcomponent calls it once for the signals.
func (r *kafkaReceiver) Start(ctx context.Context, host component.Host) error {
	if !r.cfg.Reserved {
		prov, err := policy.FromHost(host, r.cfg.Policy)
		if err != nil {
			return err
		}
		r.policy = prov
	}
	opts, err := r.cfg.ClientConfig.Opts(ctx)
	if err != nil {
		return err
	}
	reset := kgo.NewOffset().AtStart()
	if r.cfg.InitialOffset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumeRegex(),
		kgo.ConsumeTopics(r.topics.Regex(r.cfg.Reserved, r.signals()...)),
		kgo.ConsumerGroup(r.cfg.GroupID),
		kgo.ConsumeResetOffset(reset),
		kgo.MaxDecompressBatchBytes(maxDecompressBatchBytes),
		kgo.SessionTimeout(r.cfg.SessionTimeout),
		kgo.HeartbeatInterval(r.cfg.HeartbeatInterval),
		kgo.MetadataMaxAge(r.cfg.TopicRefreshInterval),
		kgo.MetadataMinAge(min(r.cfg.TopicRefreshInterval, time.Second)),
		// Offsets are committed by hand once the pipeline accepted the
		// records, and no rebalance takes partitions away between a poll
		// and that commit: the next owner starts after the last accepted
		// record, never past an unaccepted one.
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			for _, ps := range m {
				r.assigned.Add(int64(len(ps)))
			}
			if !r.cfg.Reserved {
				tenantkafka.AnnounceAssigned(r.cfg.GroupID)
			}
		}),
		// The state kept per stream (the anomaly baselines) follows the
		// partitions: handed over on a revoke, before the group gives them
		// to another member; only forgotten when they were lost.
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			if !r.cfg.Reserved {
				tenantkafka.AnnounceRevoked(ctx, r.cfg.GroupID, r.streams(m))
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if !r.cfg.Reserved {
				tenantkafka.AnnounceLost(r.cfg.GroupID, r.streams(m))
			}
		}),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r.client, r.cancel, r.done = cl, cancel, make(chan struct{})
	go r.run(runCtx)
	return nil
}

// Shutdown stops polling, lets the message in hand finish or give up
// (uncommitted, so it is read again), and leaves the group.
func (r *kafkaReceiver) Shutdown(ctx context.Context) error {
	defer r.tb.Shutdown()
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		// The batch in hand is still in the pipeline. Leave the group once
		// it returns all the same: a member the collector forgot would keep
		// its partitions and never poll them.
		go func() {
			<-r.done
			r.client.Close()
		}()
		return ctx.Err()
	}
	r.client.Close()
	return nil
}

func (r *kafkaReceiver) run(ctx context.Context) {
	defer close(r.done)
	// paused holds each partition whose message the pipeline refused
	// (retryable) until its retry: only that partition waits, rewound to
	// the refused message, while every other tenant's partitions are read
	// on, as the router delays only the tenant whose queue is full.
	paused := map[topicPartition]time.Time{}
	for {
		r.resumeDue(paused)
		// Bounded, so a paused partition is resumed on time when nothing
		// else arrives.
		pctx, cancel := context.WithTimeout(ctx, r.cfg.RetryInterval)
		fs := r.client.PollRecords(pctx, 500)
		cancel()
		if ctx.Err() != nil {
			r.client.AllowRebalance()
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if big := (*kgo.ErrDecompressTooLarge)(nil); errors.As(err, &big) {
				r.skip(big)
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				r.logger.Warn("kafka fetch error", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
			}
		})
		var done []*kgo.Record
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, rec := range p.Records {
				if ctx.Err() != nil {
					return
				}
				if !r.handle(ctx, rec) {
					r.backOff(paused, rec)
					return
				}
				done = append(done, rec)
			}
		})
		if len(done) > 0 {
			// Not ctx: what the pipeline accepted is committed even when
			// shutdown began meanwhile.
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := r.client.CommitRecords(cctx, done...); err != nil {
				r.logger.Warn("commit failed; the records will be read again", zap.Error(err))
			}
			cancel()
		}
		r.client.AllowRebalance()
	}
}

// skip moves a partition past a batch too large to decompress: franz-go
// stops fetching the partition until then. The offset is committed with
// the partition's next accepted record.
func (r *kafkaReceiver) skip(big *kgo.ErrDecompressTooLarge) {
	r.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{big.Topic: {big.Partition: {Epoch: big.Epoch, Offset: big.NextOffset}}})
	r.dropped.Get(reasonTooLarge).Add(1)
	r.logger.Warn("kafka record batch dropped", zap.String("reason", reasonTooLarge), zap.String("topic", big.Topic),
		zap.Int32("partition", big.Partition), zap.Int64("offset", big.Offset), zap.Int64("next_offset", big.NextOffset))
}

type topicPartition struct {
	topic     string
	partition int32
}

// backOff rewinds rec's partition to rec and pauses it until its retry.
// Between a poll and AllowRebalance the partition is still ours
// (BlockRebalanceOnPoll), which SetOffsets needs.
func (r *kafkaReceiver) backOff(paused map[topicPartition]time.Time, rec *kgo.Record) {
	r.client.SetOffsets(map[string]map[int32]kgo.EpochOffset{rec.Topic: {rec.Partition: {Epoch: rec.LeaderEpoch, Offset: rec.Offset}}})
	r.client.PauseFetchPartitions(map[string][]int32{rec.Topic: {rec.Partition}})
	paused[topicPartition{rec.Topic, rec.Partition}] = time.Now().Add(r.cfg.RetryInterval)
}

// resumeDue resumes the paused partitions whose retry is due. One taken
// away by a rebalance meanwhile resumes as nothing: its next owner starts
// from the committed offset, before the refused message.
func (r *kafkaReceiver) resumeDue(paused map[topicPartition]time.Time) {
	now := time.Now()
	for tp, at := range paused {
		if now.Before(at) {
			continue
		}
		r.client.ResumeFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
		delete(paused, tp)
	}
}

// handle offers one message to the pipeline once: true when it is done
// with (accepted, or dropped and counted), false when the pipeline refused
// it with a retryable error and it must be offered again.
func (r *kafkaReceiver) handle(ctx context.Context, rec *kgo.Record) bool {
	tenant, sig, ok := r.topics.Parse(rec.Topic)
	if !ok {
		// The regex and the template agree; a topic matching one and not
		// the other would be a bug, and its records are not ours to drop.
		r.logger.Error("topic does not match the template", zap.String("topic", rec.Topic))
		return false
	}
	// A spread tenant's shard: the partition of its own topic, or the key's
	// suffix in a shared one (tenantkafka.ShardKey).
	shard := rec.Partition
	if !r.topics.PerTenant() {
		var ok bool
		if tenant, shard, ok = tenantkafka.SplitKey(string(rec.Key)); !ok {
			r.drop(reasonInvalidTenant, rec)
			return true
		}
	}
	if tenant == "" {
		r.drop(reasonNoTenant, rec)
		return true
	}
	if !r.validTenant(tenant) {
		r.drop(reasonInvalidTenant, rec)
		return true
	}
	label := tenant
	if !r.cfg.Reserved && !r.declared(tenant) {
		label = undeclaredTenant
	}
	if !r.topics.PerTenant() && shard == 0 && label == tenant {
		r.see(rec.Topic, rec.Partition, tenant)
	}
	if shard != 0 {
		ctx = tenantkafka.WithShard(ctx, shard)
	}
	cctx := identity.WithAuth(client.NewContext(ctx, client.Info{}), identity.AuthData{
		Tenant: tenant, Source: identity.SourceKafkaTopic,
		Credential: "topic:" + rec.Topic, Receiver: r.id.String(),
	})
	// Decoded afresh on each offer: the pipeline may have changed the last
	// copy (the tenant processor stamps resources) before it failed.
	consume, n, err := r.decode(sig, tenant, rec.Value)
	if err != nil {
		r.drop(reasonUndecodable, rec)
		return true
	}
	switch err := consume(cctx); {
	case err == nil:
		r.records.Get(recordsKey{label, sig}).Add(int64(n))
		return true
	case consumererror.IsPermanent(err):
		r.drop(reasonPermanent, rec)
		r.logger.Warn("the pipeline refused a message for good", zap.String("topic", rec.Topic), zap.Int64("offset", rec.Offset), zap.Error(err))
		return true
	}
	return false
}

// see notes that tenant's records are read from a shared topic's
// partition.
func (r *kafkaReceiver) see(topic string, p int32, tenant string) {
	tp := topicPartition{topic, p}
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	if r.seen == nil {
		r.seen = map[topicPartition]map[string]struct{}{}
	}
	if r.seen[tp] == nil {
		r.seen[tp] = map[string]struct{}{}
	}
	r.seen[tp][tenant] = struct{}{}
}

// streams are the tenants' streams whose shard 0 the partitions carry
// (the state kept per stream is learnt there): a tenant topic's own with
// its partition 0, or those read from a shared topic's partitions (which
// are forgotten: the partitions are leaving).
func (r *kafkaReceiver) streams(m map[string][]int32) []tenantkafka.Stream {
	var out []tenantkafka.Stream
	r.seenMu.Lock()
	defer r.seenMu.Unlock()
	for topic, ps := range m {
		tenant, sig, ok := r.topics.Parse(topic)
		if !ok {
			continue
		}
		if r.topics.PerTenant() {
			if slices.Contains(ps, 0) {
				out = append(out, tenantkafka.Stream{Tenant: tenant, Signal: sig})
			}
			continue
		}
		for _, p := range ps {
			tp := topicPartition{topic, p}
			for t := range r.seen[tp] {
				out = append(out, tenantkafka.Stream{Tenant: t, Signal: sig})
			}
			delete(r.seen, tp)
		}
	}
	return out
}

// declared reports whether the policy in force declares tenant.
func (r *kafkaReceiver) declared(tenant string) bool {
	if r.policy == nil {
		return false
	}
	_, ok := r.policy.Policy().Tenant(tenant)
	return ok
}

// validTenant: a policy tenant's id outside reserved mode, a pipeline
// tenant's in it.
func (r *kafkaReceiver) validTenant(id string) bool {
	if r.cfg.Reserved {
		return id == policy.Quarantine || id == policy.Governance
	}
	return policy.ValidateTenantID(id) == nil && !policy.IsReserved(id)
}

func (r *kafkaReceiver) drop(reason string, rec *kgo.Record) {
	r.dropped.Get(reason).Add(1)
	r.logger.Warn("kafka message dropped", zap.String("reason", reason), zap.String("topic", rec.Topic),
		zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
}

// decode reads a message of sig and returns how to consume it and its
// record count. In reserved mode each resource is set to the topic's
// tenant.
func (r *kafkaReceiver) decode(sig policy.Signal, tenant string, value []byte) (func(context.Context) error, int, error) {
	bind := func(attrs pcommon.Map) {
		if r.cfg.Reserved {
			attrs.PutStr(identity.AttrTenantID, tenant)
		}
	}
	switch sig {
	case policy.SignalLogs:
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(value); err != nil {
			return nil, 0, err
		}
		ld := req.Logs()
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			bind(ld.ResourceLogs().At(i).Resource().Attributes())
		}
		return func(ctx context.Context) error { return r.logs.ConsumeLogs(ctx, ld) }, ld.LogRecordCount(), nil
	case policy.SignalMetrics:
		req := pmetricotlp.NewExportRequest()
		if err := req.UnmarshalProto(value); err != nil {
			return nil, 0, err
		}
		md := req.Metrics()
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			bind(md.ResourceMetrics().At(i).Resource().Attributes())
		}
		return func(ctx context.Context) error { return r.metrics.ConsumeMetrics(ctx, md) }, md.DataPointCount(), nil
	case policy.SignalTraces:
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(value); err != nil {
			return nil, 0, err
		}
		td := req.Traces()
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			bind(td.ResourceSpans().At(i).Resource().Attributes())
		}
		return func(ctx context.Context) error { return r.traces.ConsumeTraces(ctx, td) }, td.SpanCount(), nil
	}
	return nil, 0, fmt.Errorf("signal %q", sig)
}
