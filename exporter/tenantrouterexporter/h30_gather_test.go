package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// h30Batch is a logs batch of n records named prefix-0..n-1.
func h30Batch(prefix string, n int, version string) batch {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lrs.AppendEmpty().Body().SetStr(fmt.Sprintf("%s-%d", prefix, i))
	}
	return batch{signal: policy.SignalLogs, logs: ld, records: n, bytes: int64(100 * n), policyVersion: version}
}

// h30Send is a send that holds its first call until released and records
// every call's batches, as the local store would see them.
type h30Send struct {
	release chan struct{}
	first   sync.Once
	mu      sync.Mutex
	calls   [][]batch
}

func (s *h30Send) send(_ context.Context, _ string, b batch) error {
	s.first.Do(func() { <-s.release })
	s.mu.Lock()
	defer s.mu.Unlock()
	first := b
	first.more = nil
	s.calls = append(s.calls, append([]batch{first}, b.more...))
	return nil
}

// TestQueueGathersWaitingBatches: a queue whose backend writes several
// batches at once (the local store) sends the batches waiting behind one
// with it, up to its gather bound in records, only those that settle
// alike (the same policy version, no caller waiting on its own outcome),
// in their order; every record once; the queue's bytes and size given
// back for each.
func TestQueueGathersWaitingBatches(t *testing.T) {
	for _, consumers := range []int{1, 3} {
		t.Run(fmt.Sprintf("consumers=%d", consumers), func(t *testing.T) {
			total := &byteBudget{limit: 1 << 30}
			stats := &queueStats{}
			s := &h30Send{release: make(chan struct{})}
			stopping, abandon := make(chan struct{}), make(chan struct{})
			q := newTenantQueue("acme", "local", queueBounds{batches: 100, bytes: 1 << 30, total: total, gather: 50}, consumers, s.send,
				*fastRetry(), time.Second, stats, stopping, abandon, nil, zap.NewNop())

			require.NoError(t, q.offer(h30Batch("b00", 10, "v1")))
			eventually(t, "the first batch is being sent", func() bool { return len(q.ch) == 0 })
			var acked chan error
			want := 10
			for i := 1; i <= 14; i++ {
				version := "v1"
				if i == 6 {
					version = "v2"
				}
				b := h30Batch(fmt.Sprintf("b%02d", i), 10, version)
				if i == 9 {
					acked = make(chan error, 1)
					b.ack = acked
				}
				require.NoError(t, q.offer(b))
				want += 10
			}
			close(s.release)
			eventually(t, "every record sent", func() bool { return stats.sent[signalIndex(policy.SignalLogs)].Load() == int64(want) })
			require.NoError(t, <-acked)
			eventually(t, "the queue let go of every batch", func() bool { return stats.size.Load() == 0 && stats.bytes.Load() == 0 && total.used.Load() == 0 })
			q.close()
			<-q.done

			s.mu.Lock()
			defer s.mu.Unlock()
			seen := map[string]int{}
			joinedAny := false
			for _, call := range s.calls {
				records := 0
				for _, b := range call {
					records += b.logs.LogRecordCount()
					assert.Equal(t, call[0].policyVersion, b.policyVersion, "one send, one policy version")
					assert.Empty(t, b.more, "a joined batch joins no others")
					if len(call) > 1 {
						assert.Nil(t, b.ack, "a batch whose caller waits on its outcome is sent alone")
					}
					lrs := b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
					for i := range lrs.Len() {
						seen[lrs.At(i).Body().Str()]++
					}
				}
				assert.LessOrEqual(t, records, 50, "no send over the gather bound")
				if consumers == 1 && len(call) > 1 {
					joinedAny = true
					for i := 1; i < len(call); i++ {
						assert.Less(t, call[i-1].logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(),
							call[i].logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(), "in queue order")
					}
				}
			}
			assert.Len(t, seen, want, "every record sent")
			for body, n := range seen {
				assert.Equal(t, 1, n, "%s sent once", body)
			}
			if consumers == 1 {
				assert.True(t, joinedAny, "batches waiting behind one were sent with it: %d sends", len(s.calls))
				assert.Less(t, len(s.calls), 15)
			}
		})
	}
}

// TestQueueWithoutGatherSendsOneBatchAtATime: any other backend's queue
// (gather 0) sends each batch alone, as before.
func TestQueueWithoutGatherSendsOneBatchAtATime(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	s := &h30Send{release: make(chan struct{})}
	q := newTenantQueue("acme", "otlp", queueBounds{batches: 100, bytes: 1 << 30, total: total}, 1, s.send,
		*fastRetry(), time.Second, stats, make(chan struct{}), make(chan struct{}), nil, zap.NewNop())
	for i := range 6 {
		require.NoError(t, q.offer(h30Batch(fmt.Sprintf("b%02d", i), 10, "v1")))
	}
	close(s.release)
	eventually(t, "every record sent", func() bool { return stats.sent[signalIndex(policy.SignalLogs)].Load() == 60 })
	q.close()
	<-q.done
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.Len(t, s.calls, 6)
}

// TestQueueJoinedBatchesAreRetriedEachOnItsOwn (hostile review h30): a
// joined send that fails with a retryable error was retried as one, so
// the batches that only waited behind the first shared its retry budget
// and were dropped with it when it ran out (up to 8,192 records for one
// batch's budget). After the failed attempt each batch is delivered on
// its own, with its own budget: here retry is off, so each gets one
// attempt of its own, and only the joined attempt fails.
func TestQueueJoinedBatchesAreRetriedEachOnItsOwn(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	gate := make(chan struct{})
	var (
		mu    sync.Mutex
		calls [][]string // each call's batches, by their first record
	)
	send := func(_ context.Context, _ string, b batch) error {
		mu.Lock()
		n := len(calls)
		call := []string{b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()}
		for _, m := range b.more {
			call = append(call, m.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str())
		}
		calls = append(calls, call)
		mu.Unlock()
		switch n {
		case 0:
			<-gate
		case 1:
			return errors.New("database is locked (retryable)")
		}
		return nil
	}
	noRetry := configretry.NewDefaultBackOffConfig()
	noRetry.Enabled = false
	q := newTenantQueue("acme", "local", queueBounds{batches: 100, bytes: 1 << 30, total: total, gather: 8192}, 1, send,
		noRetry, time.Second, stats, make(chan struct{}), make(chan struct{}), nil, zap.NewNop())
	// Another policy version: nothing offered next joins it.
	require.NoError(t, q.offer(h30Batch("b00", 10, "v0")))
	eventually(t, "the first batch is being sent", func() bool { return len(q.ch) == 0 })
	for i := 1; i <= 20; i++ {
		require.NoError(t, q.offer(h30Batch(fmt.Sprintf("b%02d", i), 10, "v1")))
	}
	close(gate)
	eventually(t, "the queue let go of every batch", func() bool { return stats.size.Load() == 0 })
	q.close()
	<-q.done

	sig := signalIndex(policy.SignalLogs)
	assert.EqualValues(t, 210, stats.sent[sig].Load(), "every record sent")
	assert.Zero(t, stats.failed[sig][reasonIndex(reasonRetriesExhausted)].Load(), "none dropped with the joined attempt")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, calls, 2+20, "the first batch, the joined attempt, then each of the 20 alone")
	assert.Len(t, calls[1], 20, "the 20 waiting batches were joined")
	for i, call := range calls[2:] {
		assert.Equal(t, []string{fmt.Sprintf("b%02d-0", i+1)}, call, "after the failed joined attempt, each alone and in order")
	}
}

// TestQueueSizeBoundsGatheredBatches (hostile review h30): gathering takes
// batches off the queue's channel while they wait to be sent with the
// first; they must still count against queue_size, or the channel's room
// lets in as many again. As before gathering, a queue holds queue_size
// batches besides the one being sent.
func TestQueueSizeBoundsGatheredBatches(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	gate, sending := make(chan struct{}), make(chan struct{}, 2)
	send := func(context.Context, string, batch) error { sending <- struct{}{}; <-gate; return nil }
	q := newTenantQueue("acme", "local", queueBounds{batches: 5, bytes: 1 << 30, total: total, gather: 8192}, 1, send,
		*fastRetry(), time.Second, stats, make(chan struct{}), make(chan struct{}), nil, zap.NewNop())
	require.NoError(t, q.offer(h30Batch("a", 10, "v0"))) // another policy version: nothing joins it
	<-sending
	for i := range 5 {
		require.NoError(t, q.offer(h30Batch(fmt.Sprint("b", i), 10, "v1")))
	}
	require.ErrorIs(t, q.offer(h30Batch("x", 10, "v1")), errQueueFull, "queue_size 5 and one being sent")

	gate <- struct{}{} // a sent; b0 is sent next with b1..b4 joined
	<-sending
	require.Zero(t, len(q.ch), "b1..b4 gathered behind b0")
	accepted := 0
	for i := range 10 {
		if q.offer(h30Batch(fmt.Sprint("c", i), 10, "v1")) == nil {
			accepted++
		}
	}
	assert.Equal(t, 1, accepted, "b1..b4 still hold their room: one more fits")
	assert.EqualValues(t, 6, stats.size.Load(), "b0 being sent, b1..b4 joined to it, c0")
	close(gate)
	eventually(t, "the queue let go of every batch", func() bool { return stats.size.Load() == 0 })
	q.close()
	<-q.done
}
