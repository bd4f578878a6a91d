package tenantrouterexporter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
