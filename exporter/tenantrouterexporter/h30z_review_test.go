package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// h30zFirst is b's first record's body.
func h30zFirst(b batch) string {
	return b.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
}

// TestQueueH30zDeliveredJoinedBatchesHoldRoom (hostile review h30z):
// delivered joined batches kept their slot, bytes and size until the whole
// group was done: after a retryable joined failure, b0..b3 were delivered
// alone, b4 was in flight, yet the queue still counted b1..b3. Each now
// lets go when it is settled.
func TestQueueH30zDeliveredJoinedBatchesHoldRoom(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	gateA, gateB4 := make(chan struct{}), make(chan struct{})
	var calls atomic.Int64
	send := func(_ context.Context, _ string, b batch) error {
		n := calls.Add(1) - 1
		switch {
		case n == 0:
			<-gateA
		case n == 1:
			return errors.New("database is locked")
		case h30zFirst(b) == "b4-0":
			<-gateB4
		}
		return nil
	}
	noRetry := configretry.NewDefaultBackOffConfig()
	noRetry.Enabled = false
	q := newTenantQueue("acme", "local", queueBounds{batches: 5, bytes: 1 << 30, total: total, gather: 8192}, 1, send,
		noRetry, time.Second, stats, make(chan struct{}), make(chan struct{}), nil, zap.NewNop())
	require.NoError(t, q.offer(h30Batch("a", 10, "v0")))
	eventually(t, "a being sent", func() bool { return calls.Load() == 1 })
	for i := range 5 {
		require.NoError(t, q.offer(h30Batch(fmt.Sprint("b", i), 10, "v1")))
	}
	close(gateA)
	sig := signalIndex(policy.SignalLogs)
	eventually(t, "a, b0..b3 delivered and let go of", func() bool { return stats.sent[sig].Load() == 50 && stats.size.Load() == 1 })
	assert.EqualValues(t, 100*10, stats.bytes.Load(), "only b4's bytes held")
	accepted := 0
	for i := range 10 {
		if q.offer(h30Batch(fmt.Sprint("c", i), 10, "v1")) == nil {
			accepted++
		}
	}
	close(gateB4)
	eventually(t, "drained", func() bool { return stats.size.Load() == 0 })
	q.close()
	<-q.done
	// As with gather 0: one batch in flight (b4), queue_size 5 free.
	assert.Equal(t, 5, accepted, "only b4 is still undelivered; b1..b3 were delivered but hold their slots")
}

// TestQueueH30zHeldBatchWaitsWhileAnotherConsumerIdles (hostile review
// h30z): a batch gatherBehind took and could not join was held by its
// consumer behind the lead's whole delivery while another consumer sat
// idle. A queue with several consumers does not gather.
func TestQueueH30zHeldBatchWaitsWhileAnotherConsumerIdles(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	gates := map[string]chan struct{}{"x1-0": make(chan struct{}), "x2-0": make(chan struct{}), "c-0": make(chan struct{})}
	started := make(chan string, 10)
	send := func(_ context.Context, _ string, b batch) error {
		started <- h30zFirst(b)
		if g, ok := gates[h30zFirst(b)]; ok {
			<-g
		}
		return nil
	}
	q := newTenantQueue("acme", "local", queueBounds{batches: 10, bytes: 1 << 30, total: total, gather: 8192}, 2, send,
		*fastRetry(), time.Second, stats, make(chan struct{}), make(chan struct{}), nil, zap.NewNop())
	require.NoError(t, q.offer(h30Batch("x1", 10, "v0")))
	require.Equal(t, "x1-0", <-started)
	require.NoError(t, q.offer(h30Batch("x2", 10, "v9")))
	require.Equal(t, "x2-0", <-started)
	require.NoError(t, q.offer(h30Batch("c", 10, "v1")))
	d := h30Batch("d", 10, "v1")
	ack := make(chan error, 1)
	d.ack = ack // wait_for_delivery: not joinable
	require.NoError(t, q.offer(d))
	close(gates["x2-0"]) // consumer B: takes c, holds d
	require.Equal(t, "c-0", <-started)
	close(gates["x1-0"]) // consumer A is idle now; the channel is empty
	select {
	case err := <-ack:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Errorf("d's caller waited 30 s on a batch held behind c while a consumer was idle (len(ch)=%d)", len(q.ch))
	}
	close(gates["c-0"])
	eventually(t, "drained", func() bool { return stats.size.Load() == 0 })
	q.close()
	<-q.done
}

// TestQueueH30zShutdownDropsJoinedRestWithoutTheirAttempt (hostile review
// h30z): at a graceful shutdown (stopping closed, not abandoned), batches
// joined to one still retrying got no attempt of their own and were
// counted lost, while a batch on the channel behind them got its last
// attempt, as every in-memory batch did before gathering. Now they get it
// too.
func TestQueueH30zShutdownDropsJoinedRestWithoutTheirAttempt(t *testing.T) {
	total := &byteBudget{limit: 1 << 30}
	stats := &queueStats{}
	gateA := make(chan struct{})
	var up sync.Mutex
	down := true
	var calls atomic.Int64
	send := func(_ context.Context, _ string, b batch) error {
		n := calls.Add(1) - 1
		if n == 0 {
			<-gateA
			return nil
		}
		up.Lock()
		defer up.Unlock()
		if down {
			return errors.New("database is locked")
		}
		return nil
	}
	slow := configretry.BackOffConfig{Enabled: true, InitialInterval: time.Hour, Multiplier: 1, MaxElapsedTime: 10 * time.Hour}
	stopping := make(chan struct{})
	q := newTenantQueue("acme", "local", queueBounds{batches: 10, bytes: 1 << 30, total: total, gather: 8192}, 1, send,
		slow, time.Second, stats, stopping, make(chan struct{}), nil, zap.NewNop())
	require.NoError(t, q.offer(h30Batch("a", 10, "v0")))
	eventually(t, "a being sent", func() bool { return calls.Load() == 1 })
	for i := range 5 {
		require.NoError(t, q.offer(h30Batch(fmt.Sprint("b", i), 10, "v1")))
	}
	close(gateA)
	// joined attempt fails, b0 alone fails and waits an hour
	eventually(t, "b0 retrying", func() bool { return calls.Load() == 3 })
	require.NoError(t, q.offer(h30Batch("c", 10, "v2"))) // on the channel, behind the group
	up.Lock()
	down = false // the store is back
	up.Unlock()
	close(stopping)
	q.close()
	<-q.done
	sig := signalIndex(policy.SignalLogs)
	t.Logf("sent=%d shutdown-lost=%d", stats.sent[sig].Load(), stats.failed[sig][reasonIndex(reasonShutdown)].Load())
	assert.EqualValues(t, 10, stats.failed[sig][reasonIndex(reasonShutdown)].Load(), "only b0 (interrupted in its retry wait) is lost; b1..b4 should get their last attempt as c does")
}
