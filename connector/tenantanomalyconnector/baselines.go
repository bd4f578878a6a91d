package tenantanomalyconnector

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// kafkaBaselines keeps each stream's baseline (a tenant's detectors of one
// signal) on a compacted topic keyed tenant/signal, so it follows the
// stream's partition from one processing collector to another:
//
//   - the first record of a stream this member has no state for claims it:
//     its latest checkpoint is read from the topic (the store reads a
//     partition once for all the keys it holds) and the detectors go on
//     from there, without a new probation;
//   - a stream revoked in an orderly rebalance is written and forgotten
//     before the group hands its partition on; one lost (this member was
//     put out of the group) is only forgotten: its new owner may write it
//     already. A kill -9 writes nothing: the next owner goes on from the
//     last periodic checkpoint (checkpoint_interval);
//   - only claimed streams are scored and checkpointed, so a member never
//     flags the silence of a stream that moved away, nor writes over its
//     new owner's baseline.
//
// The key is the tenant id the tenant processor verified (the topic's
// tenant), never a claim in the data: one tenant's records cannot reach
// another's baseline.
type kafkaBaselines struct {
	m           *monitor
	store       *tenantkafka.Baselines
	unsubscribe func()
}

// baselineTimeout bounds one read or write of the topic; a claim that
// times out starts the stream afresh rather than hold the pipeline.
const baselineTimeout = 10 * time.Second

func newKafkaBaselines(ctx context.Context, m *monitor, cfg tenantkafka.BaselinesConfig) (*kafkaBaselines, error) {
	store, err := tenantkafka.NewBaselines(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("baselines: %w", err)
	}
	b := &kafkaBaselines{m: m, store: store}
	b.unsubscribe = tenantkafka.Subscribe(store.Group(), b)
	return b, nil
}

// claim: see kafkaBaselines.claim; nothing without a baselines topic.
func (m *monitor) claim(e viewEntry, s signal) {
	if m.baselines != nil && !e.series.claimed[s].Load() {
		m.baselines.claim(e.series, s, e.sensitivity)
	}
}

func baselineKey(tenant string, s signal) string { return tenant + "/" + signalNames[s] }

func signalNamed(name string) (signal, bool) {
	for s := range signalCount {
		if signalNames[s] == name {
			return s, true
		}
	}
	return 0, false
}

// claim makes the stream this member's, loading its baseline; called
// before the stream's records are counted. The interval open at the claim
// is not scored: it holds only the records since.
func (b *kafkaBaselines) claim(t *tenantSeries, s signal, sensitivity float64) {
	t.claimMu.Lock()
	defer t.claimMu.Unlock()
	if t.claimed[s].Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), baselineTimeout)
	defer cancel()
	var loaded *signalSeries
	v, ok, err := b.store.Get(ctx, baselineKey(t.id, s))
	switch {
	case err != nil:
		b.m.logger.Warn("tenantanomaly: could not read a baseline; the stream starts afresh", zap.String("tenant", t.id),
			zap.String("signal", signalNames[s]), zap.Error(err))
	case ok:
		sig, err := b.m.decodeTenant(v, sensitivity)
		if err == nil && sig[s] == nil {
			err = fmt.Errorf("no %s baseline in the record", signalNames[s])
		}
		if err != nil {
			b.m.logger.Warn("tenantanomaly: a damaged baseline; the stream starts afresh", zap.String("tenant", t.id),
				zap.String("signal", signalNames[s]), zap.Error(err))
			break
		}
		loaded = sig[s]
	}
	t.mu.Lock()
	if loaded != nil && !t.sig[s].learnt() {
		// What arrived before (a quarantined count) is kept.
		if t.sig[s] != nil {
			loaded.acc = t.sig[s].acc
		}
		t.sig[s] = loaded
	}
	t.signal(s).claimedMidInterval = true
	t.claimed[s].Store(true)
	t.mu.Unlock()
	if loaded != nil {
		b.m.logger.Debug("tenantanomaly: baseline taken over", zap.String("tenant", t.id), zap.String("signal", signalNames[s]),
			zap.Uint64("points", loaded.det[featRecords].Points()))
	}
}

// Assigned: partitions came to this member; what the store read before may
// have been written since by their previous owner.
func (b *kafkaBaselines) Assigned() { b.store.Invalidate() }

// Revoked writes the streams' baselines and forgets them.
func (b *kafkaBaselines) Revoked(ctx context.Context, streams []tenantkafka.Stream) {
	entries := b.release(streams, true)
	// The client's context ends when the receiver is closing; the handover
	// is what closing waits for.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), baselineTimeout)
	defer cancel()
	if err := b.store.Put(wctx, entries...); err != nil {
		b.m.logger.Warn("tenantanomaly: could not hand over baselines; their next owner goes on from the last checkpoint",
			zap.Int("streams", len(entries)), zap.Error(err))
	}
}

// Lost forgets the streams.
func (b *kafkaBaselines) Lost(streams []tenantkafka.Stream) { b.release(streams, false) }

// release forgets the streams and, with write, returns their checkpoints.
func (b *kafkaBaselines) release(streams []tenantkafka.Stream, write bool) []tenantkafka.Entry {
	var entries []tenantkafka.Entry
	for _, st := range streams {
		s, ok := signalNamed(string(st.Signal))
		if !ok {
			continue
		}
		b.m.mu.Lock()
		t := b.m.series[st.Tenant]
		b.m.mu.Unlock()
		if t == nil {
			continue
		}
		t.claimMu.Lock()
		t.mu.Lock()
		ss := t.sig[s]
		t.sig[s] = nil
		claimed := t.claimed[s].Swap(false)
		var v []byte
		var err error
		if write && claimed && ss.learnt() {
			v, err = ss.appendBinary([]byte{storageFormat}, s)
		}
		t.mu.Unlock()
		t.claimMu.Unlock()
		if err != nil {
			b.m.logger.Warn("tenantanomaly: could not encode a baseline", zap.String("tenant", st.Tenant), zap.Error(err))
			continue
		}
		if v != nil {
			entries = append(entries, tenantkafka.Entry{Key: baselineKey(st.Tenant, s), Value: v})
		}
	}
	return entries
}

// save checkpoints every claimed stream that has a baseline.
func (b *kafkaBaselines) save(ctx context.Context) error {
	b.m.mu.Lock()
	all := make([]*tenantSeries, 0, len(b.m.series))
	for _, t := range b.m.series {
		all = append(all, t)
	}
	b.m.mu.Unlock()
	var entries []tenantkafka.Entry
	for _, t := range all {
		t.mu.Lock()
		for s := range signalCount {
			if !t.claimed[s].Load() || !t.sig[s].learnt() {
				continue
			}
			v, err := t.sig[s].appendBinary([]byte{storageFormat}, s)
			if err != nil {
				t.mu.Unlock()
				return fmt.Errorf("tenant %s: %w", t.id, err)
			}
			entries = append(entries, tenantkafka.Entry{Key: baselineKey(t.id, s), Value: v})
		}
		t.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, baselineTimeout)
	defer cancel()
	return b.store.Put(ctx, entries...)
}

// close stops following the receiver and closes the connection.
func (b *kafkaBaselines) close() {
	b.unsubscribe()
	b.store.Close()
}
