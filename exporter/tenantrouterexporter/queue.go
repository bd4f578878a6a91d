package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"
)

// Reasons a record was not delivered, the reason label of records_failed.
const (
	reasonPermanent         = "permanent"
	reasonRetriesExhausted  = "retries_exhausted"
	reasonQueueFull         = "queue_full"
	reasonShutdown          = "shutdown"
	reasonUnknownBackend    = "unknown_backend"
	reasonUnsupportedSignal = "unsupported_signal"
	reasonNoBackendTenantID = "no_backend_tenant_id" // the backend's tenant_ids has no entry for the tenant
	reasonResidency         = "residency"            // the backend's region is not the tenant's residency
	reasonMemoryLimit       = "memory_limit"         // every queue together holds total_queue_bytes
	reasonTooLarge          = "too_large"            // one batch over queue_bytes or total_queue_bytes: never fits
	reasonNoCredential      = "no_credential"        // the backend has tenant_headers and the tenant no usable credential
	reasonStorage           = "storage"              // the journal could not persist the batch
	reasonShredded          = "shredded"             // the tenant was crypto-shredded: refused until its tombstone is cleared
)

// Errors returned to the pipeline for a batch a queue refused: retryable
// (the client tries again once the queue drains) except errTooLarge.
var (
	errQueueFull   = errors.New("queue full")
	errMemoryLimit = errors.New("every queue together is at total_queue_bytes")
	errTooLarge    = errors.New("batch larger than the queue's byte bound")
)

// byteBudget is the one byte bound every queue shares.
type byteBudget struct {
	limit int64
	used  atomic.Int64
	peak  atomic.Int64 // high-water mark of used
}

// take reserves n bytes unless that would pass the limit.
func (bb *byteBudget) take(n int64) bool {
	for {
		u := bb.used.Load()
		if u+n > bb.limit {
			return false
		}
		if bb.used.CompareAndSwap(u, u+n) {
			bb.raisePeak(u + n)
			return true
		}
	}
}

// force reserves n bytes whatever the limit: batches restored from the
// journal were accepted already, so they are queued; new ones wait.
func (bb *byteBudget) force(n int64) { bb.raisePeak(bb.used.Add(n)) }

func (bb *byteBudget) give(n int64) { bb.used.Add(-n) }

func (bb *byteBudget) raisePeak(u int64) {
	for p := bb.peak.Load(); u > p && !bb.peak.CompareAndSwap(p, u); p = bb.peak.Load() {
	}
}

// TenantQueue is one tenant's queue to one backend: bounded, with its own
// goroutine, retry and backoff. A queue stuck retrying holds up only its
// own tenant's batches to that backend; every other queue keeps moving.
type TenantQueue struct {
	tenant  string
	backend string
	send    func(ctx context.Context, tenant string, b batch) error
	retry   configretry.BackOffConfig
	timeout time.Duration
	stats   *queueStats
	logger  *zap.Logger

	journal *journal   // nil without a storage extension
	offerMu sync.Mutex // orders journal writes with channel sends

	// bytes is this queue's own byte bound (its used bytes are in
	// stats.bytes); total is the bound all queues share.
	bytes  *byteBudget
	total  *byteBudget
	gather int // queueBounds.gather

	ch chan batch
	// slots bound the batches the queue holds: one is taken before a batch
	// enters ch and given back when a consumer takes the batch to send it;
	// a batch gathered behind another (gatherBehind) keeps its slot until
	// it leaves, or until it is taken to be sent alone (deliverJoined), so
	// gathering frees no room beyond queue_size.
	slots chan struct{}
	// sendMu orders sends on ch with its close: a producer inside the
	// router (the store's audit anchors to _governance) may still offer
	// while Shutdown closes the queues.
	sendMu   sync.RWMutex
	closed   bool
	stopping chan struct{} // closed at shutdown: stop waiting between retries
	abandon  chan struct{} // closed when shutdown's deadline passed: send nothing more
	done     chan struct{}
	closeCh  sync.Once
}

// queueStats are a queue's self-metrics, read at collection time.
type queueStats struct {
	size    atomic.Int64
	bytes   atomic.Int64
	retries atomic.Int64
	sent    [signalCount]atomic.Int64
	failed  [signalCount][reasonCountIdx]atomic.Int64
	// untranslated counts metrics remote write could not carry, by
	// untranslatedReasons.
	untranslated [len(untranslatedReasons)]atomic.Int64
}

var reasonNames = [...]string{reasonPermanent, reasonRetriesExhausted, reasonQueueFull, reasonShutdown, reasonUnknownBackend, reasonUnsupportedSignal, reasonNoBackendTenantID, reasonResidency,
	reasonMemoryLimit, reasonTooLarge, reasonNoCredential, reasonStorage, reasonShredded}

const reasonCountIdx = len(reasonNames)

func reasonIndex(r string) int {
	for i, n := range reasonNames {
		if n == r {
			return i
		}
	}
	return 0
}

func (s *queueStats) fail(b batch, reason string) {
	s.failed[signalIndex(b.signal)][reasonIndex(reason)].Add(int64(b.records))
}

// queueBounds are what a queue may hold: batches, its own bytes, and the
// budget every queue shares.
type queueBounds struct {
	batches int
	bytes   int64
	total   *byteBudget
	// gather is how many records a consumer may take into one send from
	// the batches waiting on the queue (TenantQueue.gather); 0: one batch
	// a send.
	gather int
}

func newTenantQueue(tenant, backend string, bounds queueBounds, consumers int, send func(context.Context, string, batch) error,
	retry configretry.BackOffConfig, timeout time.Duration, stats *queueStats, stopping, abandon chan struct{}, j *journal, logger *zap.Logger) *TenantQueue {
	q := &TenantQueue{tenant: tenant, backend: backend, send: send, retry: retry, timeout: timeout, stats: stats, journal: j,
		logger: logger, ch: make(chan batch, bounds.batches), slots: make(chan struct{}, bounds.batches), stopping: stopping, abandon: abandon, done: make(chan struct{}),
		bytes: &byteBudget{limit: bounds.bytes}, total: bounds.total}
	if consumers <= 1 {
		// With several consumers a batch taken while gathering and not
		// joined would wait behind the joined send while another consumer
		// could send it (hostile review h30z); and their order is not kept
		// anyway, which gathering in queue order is for.
		q.gather = bounds.gather
	}
	var wg sync.WaitGroup
	for range max(consumers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.run()
		}()
	}
	go func() {
		wg.Wait()
		close(q.done)
	}()
	return q
}

// offer enqueues without blocking. A batch that finds its queue full, in
// batches or bytes, or every queue together at total_queue_bytes, is
// refused, counted, with a retryable error; one that could never fit,
// with a permanent one. With a journal the batch is written to storage
// first, so it survives a restart from the moment the pipeline is told it
// was accepted.
func (q *TenantQueue) offer(b batch) error {
	// The queue holds its own reference to a batch's reused memory from
	// here until the batch leaves it (run) or is refused. One already
	// released is a bug: refused, not sent from memory another batch may
	// hold by now, and not a crash of the collector.
	if b.buf != nil && !b.buf.Hold() {
		q.stats.fail(b, reasonPermanent)
		return consumererror.NewPermanent(errors.New("tenantrouter: a batch offered after its marshaled form was released"))
	}
	queued := false
	defer func() {
		if !queued {
			b.buf.Drop()
		}
	}()
	if b.bytes > q.bytes.limit || b.bytes > q.total.limit {
		q.stats.fail(b, reasonTooLarge)
		return consumererror.NewPermanent(fmt.Errorf("%w (%d bytes; queue_bytes %d, total_queue_bytes %d)", errTooLarge, b.bytes, q.bytes.limit, q.total.limit))
	}
	if !q.bytes.take(b.bytes) {
		q.stats.fail(b, reasonQueueFull)
		return fmt.Errorf("%w (%d of %d bytes)", errQueueFull, q.bytes.used.Load(), q.bytes.limit)
	}
	if !q.total.take(b.bytes) {
		q.bytes.give(b.bytes)
		q.stats.fail(b, reasonMemoryLimit)
		return fmt.Errorf("%w (%d bytes)", errMemoryLimit, q.total.limit)
	}
	q.stats.bytes.Add(b.bytes)
	if err := q.enqueue(b); err != nil {
		q.release(b)
		return err
	}
	queued = true
	return nil
}

// enqueue puts a batch whose bytes are reserved on the channel.
func (q *TenantQueue) enqueue(b batch) error {
	q.sendMu.RLock()
	defer q.sendMu.RUnlock()
	if q.closed {
		q.stats.fail(b, reasonShutdown)
		return errors.New("tenantrouter: shutting down")
	}
	if q.journal == nil {
		if !q.takeSlot() {
			q.stats.fail(b, reasonQueueFull)
			return fmt.Errorf("%w (%d batches)", errQueueFull, cap(q.ch))
		}
		q.ch <- b // room is certain: every batch in ch holds a slot
		q.stats.size.Add(1)
		return nil
	}
	q.offerMu.Lock()
	defer q.offerMu.Unlock()
	if !q.takeSlot() {
		q.stats.fail(b, reasonQueueFull)
		return fmt.Errorf("%w (%d batches)", errQueueFull, cap(q.ch))
	}
	seq, err := q.journal.add(context.Background(), statsKey{q.tenant, q.backend}, b)
	if err != nil {
		<-q.slots
		// Accepting it into memory only would break the promise storage
		// makes (nothing acknowledged is lost): refuse, the client retries.
		q.stats.fail(b, reasonStorage)
		q.logger.Warn("could not persist a batch; refused", zap.String("tenant", q.tenant), zap.String("backend", q.backend), zap.Error(err))
		return fmt.Errorf("could not persist the batch: %w", err)
	}
	b.seq, b.journaled = seq, true
	q.ch <- b // room is certain: every batch in ch holds a slot
	q.stats.size.Add(1)
	return nil
}

// takeSlot takes room for one batch, false when the queue is full.
func (q *TenantQueue) takeSlot() bool {
	select {
	case q.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// release gives back a batch's bytes once it left the queue.
func (q *TenantQueue) release(b batch) {
	q.bytes.give(b.bytes)
	q.total.give(b.bytes)
	q.stats.bytes.Add(-b.bytes)
}

// restore queues batches read back from the journal at start.
func (q *TenantQueue) restore(bs []batch) {
	for _, b := range bs {
		q.bytes.force(b.bytes)
		q.total.force(b.bytes)
		q.stats.bytes.Add(b.bytes)
		q.slots <- struct{}{}
		q.ch <- b
		q.stats.size.Add(1)
	}
}

// settle forgets a batch that reached a final outcome.
func (q *TenantQueue) settle(b batch) {
	if q.journal == nil || !b.journaled {
		return
	}
	if err := q.journal.remove(context.Background(), statsKey{q.tenant, q.backend}, b.seq); err != nil {
		q.logger.Warn("could not remove a delivered batch from storage; it may be sent again after a restart",
			zap.String("tenant", q.tenant), zap.String("backend", q.backend), zap.Error(err))
	}
}

func (q *TenantQueue) close() {
	q.closeCh.Do(func() {
		q.sendMu.Lock()
		defer q.sendMu.Unlock()
		q.closed = true
		close(q.ch)
	})
}

func (q *TenantQueue) run() {
	var held *batch // taken while gathering and not joined: sent next
	for {
		var b batch
		if held != nil {
			b, held = *held, nil
		} else {
			var ok bool
			if b, ok = <-q.ch; !ok {
				return
			}
		}
		<-q.slots // b is being sent, as a batch taken off ch always was
		held = q.gatherBehind(&b)
		select {
		case <-q.abandon:
			q.stopped(b)
			for _, m := range b.more {
				q.stopped(m)
			}
		case <-q.whenKept(b):
			q.stopped(b) // journaled: the next start sends it; shut down fast
		default:
			if len(b.more) > 0 {
				q.deliverJoined(b) // lets go of each batch itself
				continue
			}
			if q.deliver(b) {
				q.settle(b)
			}
		}
		q.leaveAll(b)
	}
}

// leave lets go of a batch that left the queue's consumer.
func (q *TenantQueue) leave(b batch) {
	q.release(b)
	b.buf.Drop()
	q.stats.size.Add(-1)
}

// deliverJoined makes one attempt to send b with the batches joined to it,
// and lets go of each. Refused for good, they all are (the store's
// permanent refusals are the tenant's: shredded, an id it cannot hold).
// After a retryable failure each is delivered on its own, b first, as if
// never joined: with a retry budget of its own from its turn (retried as
// one, the batches that only waited behind b would share b's budget and
// be dropped with it), its last attempt if shutdown comes, and its room
// given back as soon as it is settled, not when the last one is
// (hostile reviews h30, h30z).
func (q *TenantQueue) deliverJoined(b batch) {
	err := q.attempt(b)
	each := append([]batch{b}, b.more...)
	each[0].more = nil
	if err == nil || consumererror.IsPermanent(err) {
		for _, m := range each {
			if err == nil {
				q.delivered(m)
			} else {
				q.refused(m, err)
			}
		}
		q.leaveAll(b)
		return
	}
	q.stats.retries.Add(1)
	for i, m := range each {
		if i > 0 {
			<-q.slots // taken to be sent, as off the channel
		}
		select {
		case <-q.abandon:
			q.stopped(m)
		default:
			q.deliver(m) // once shutdown began: its one last attempt, as a batch on the channel gets
		}
		q.leave(m)
	}
}

// leaveAll lets go of b and of the batches joined to it, which held their
// slots until now (b's, run gave back when it took b).
func (q *TenantQueue) leaveAll(b batch) {
	q.leave(b)
	for _, m := range b.more {
		q.leave(m)
		<-q.slots
	}
}

// gatherBehind joins to b the batches waiting behind it on the queue, up
// to q.gather records, for a backend that writes them in one go (the
// local store: one transaction, whose own cost a quickstart's 100-record
// requests otherwise pay each). Only batches that settle alike join: the
// same signal and policy version, in memory only (a journaled batch is
// settled by its sequence number), with no caller waiting on its own
// outcome. They are sent with b as one (deliverJoined), each keeping its
// own records, bytes, memory reference, place in the queue's size and
// slot until it is settled (deliverJoined lets go of each). It returns a
// batch it took and could not join, which run sends next (it keeps its
// slot till then); nil if none.
func (q *TenantQueue) gatherBehind(b *batch) *batch {
	if q.gather == 0 || !joinable(*b) {
		return nil
	}
	for records := b.records; records < q.gather; {
		select {
		case m, ok := <-q.ch:
			if !ok {
				return nil
			}
			if !joinable(m) || m.signal != b.signal || m.policyVersion != b.policyVersion || records+m.records > q.gather {
				return &m
			}
			b.more = append(b.more, m)
			records += m.records
		default:
			return nil
		}
	}
	return nil
}

func joinable(b batch) bool { return b.ack == nil && !b.journaled && !b.unreadable && len(b.more) == 0 }

// whenKept is closed at shutdown for a batch the journal keeps; nil (never
// ready) otherwise, so a batch only in memory still gets its last attempt.
func (q *TenantQueue) whenKept(b batch) <-chan struct{} {
	if b.journaled {
		return q.stopping
	}
	return nil
}

// stopped accounts for a batch left undelivered at shutdown: kept in the
// journal for the next start, or counted as lost.
func (q *TenantQueue) stopped(b batch) {
	if b.ack != nil {
		b.ack <- errors.New("router shutting down; not delivered") // retryable: the caller keeps it
		return
	}
	if b.journaled {
		return
	}
	q.stats.fail(b, reasonShutdown)
}

// deliver sends one batch until it is accepted, refused for good, or its
// retries run out; it waits the longer of the backoff and the backend's
// Retry-After between attempts. It reports whether the batch is settled
// (false: interrupted by shutdown).
func (q *TenantQueue) deliver(b batch) bool {
	start := time.Now()
	var attempt int
	for {
		err := q.attempt(b)
		if err == nil {
			q.delivered(b)
			return true
		}
		if consumererror.IsPermanent(err) {
			q.refused(b, err)
			return true
		}
		if b.ack != nil {
			// The caller retries it (a Kafka receiver pauses the partition
			// and offers it again), not this queue.
			q.stats.retries.Add(1)
			acknowledge(b, err)
			return true
		}
		wait := q.backoff(attempt)
		var ra *retryAfterError
		if errors.As(err, &ra) && ra.after > wait {
			wait = ra.after
		}
		if !q.retry.Enabled || (q.retry.MaxElapsedTime > 0 && time.Since(start)+wait > q.retry.MaxElapsedTime) {
			q.stats.fail(b, reasonRetriesExhausted)
			q.logger.Warn("dropping a batch after retries", zap.String("tenant", q.tenant), zap.String("backend", q.backend),
				zap.String("signal", string(b.signal)), zap.Int("records", b.records), zap.Int("attempts", attempt+1), zap.Error(err))
			return true
		}
		select {
		case <-q.stopping:
			q.stopped(b)
			return false
		case <-time.After(wait):
		}
		attempt++
		q.stats.retries.Add(1)
	}
}

// attempt sends b once, within the queue's timeout, cut short when
// shutdown's deadline passes.
func (q *TenantQueue) attempt(b batch) error {
	ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
	defer cancel()
	go func() {
		select {
		case <-q.abandon:
			cancel()
		case <-ctx.Done():
		}
	}()
	return q.send(ctx, q.tenant, b)
}

// delivered accounts for a batch the backend accepted.
func (q *TenantQueue) delivered(b batch) {
	q.stats.sent[signalIndex(b.signal)].Add(int64(b.records))
	acknowledge(b, nil)
}

// refused accounts for a batch the backend refused for good.
func (q *TenantQueue) refused(b batch, err error) {
	reason := reasonPermanent
	var rf *refusal
	if errors.As(err, &rf) {
		reason = rf.reason
	}
	q.stats.fail(b, reason)
	q.logger.Warn("backend refused a batch for good", zap.String("tenant", q.tenant), zap.String("backend", q.backend),
		zap.String("signal", string(b.signal)), zap.Int("records", b.records), zap.Error(err))
	acknowledge(b, err)
}

// acknowledge hands a waiting caller the outcome of its batch.
func acknowledge(b batch, err error) {
	if b.ack != nil {
		b.ack <- err
	}
}

// backoff is the exponential backoff of configretry with its jitter.
func (q *TenantQueue) backoff(attempt int) time.Duration {
	d := float64(q.retry.InitialInterval)
	for range attempt {
		d *= q.retry.Multiplier
		if q.retry.MaxInterval > 0 && d > float64(q.retry.MaxInterval) {
			d = float64(q.retry.MaxInterval)
			break
		}
	}
	if f := q.retry.RandomizationFactor; f > 0 {
		d *= 1 - f + 2*f*rand.Float64()
	}
	return time.Duration(d)
}
