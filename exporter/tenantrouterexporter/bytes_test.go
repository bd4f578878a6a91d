package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
)

// paddedLogs is one record of tenant whose size as protobuf does not
// depend on the marker (same length tenants and markers).
func paddedLogs(tenant, marker string) plog.Logs {
	return batchOf(tenant, marker, []string{strings.Repeat("p", 1000)})
}

func logsBytes(ld plog.Logs) int64 { return int64((&plog.ProtoMarshaler{}).LogsSize(ld)) }

// hungBackend answers nothing until released.
func hungBackend(t *testing.T) (*otlpServer, func()) {
	release := make(chan struct{})
	s := newOTLPServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	var once sync.Once
	return s, func() { once.Do(func() { close(release) }) }
}

// produce sends n batches of tenant from each of g goroutines at once; it
// returns the errors the pipeline saw (nil for accepted batches).
func produce(e *exporters, tenant string, g, n int) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				err := e.logs.ConsumeLogs(context.Background(), paddedLogs(tenant, fmt.Sprintf("m%03d-%03d", w, i)))
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestByteBudgetUnderConcurrentProducers: five tenants whose backend
// hangs, four producers each, together want far more than the budget.
// The bytes queued never pass total_queue_bytes nor any queue's
// queue_bytes; each refused batch is a retryable error the caller sees and
// is counted (queue_full or memory_limit), none is dropped silently.
func TestByteBudgetUnderConcurrentProducers(t *testing.T) {
	hung, release := hungBackend(t)
	sz := logsBytes(paddedLogs("t0", "m000-000"))
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"hung": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: hung.URL}, Retry: fastRetry()}}
	cfg.DefaultBackends = map[string][]string{"logs": {"hung"}, "metrics": {"hung"}, "traces": {"hung"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"hung"}, []string{"hung"}
	cfg.QueueSize = 10_000 // only bytes bind
	cfg.QueueBytes = 8 * sz
	cfg.TotalQueueBytes = 20 * sz
	tenants := []string{"t0", "t1", "t2", "t3", "t4"}
	e := startRouter(t, cfg, "tenants: {t0: {}, t1: {}, t2: {}, t3: {}, t4: {}}\n")
	t.Cleanup(release)

	var wg sync.WaitGroup
	results := make([][]error, len(tenants))
	for i, tn := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = produce(e, tn, 4, 20)
		}()
	}
	wg.Wait()

	assert.LessOrEqual(t, e.r.total.peak.Load(), cfg.TotalQueueBytes, "the global budget is never passed")
	assert.Equal(t, cfg.TotalQueueBytes, e.r.total.used.Load(), "the budget filled up (20 batches held)")
	var accepted, refused int64
	for i, tn := range tenants {
		q, err := e.r.queue(tn, "hung")
		require.NoError(t, err)
		assert.LessOrEqual(t, q.bytes.peak.Load(), cfg.QueueBytes, "%s's queue stays within queue_bytes", tn)
		st := e.stats(tn, "hung")
		counted := st.failed[0][reasonIndex(reasonQueueFull)].Load() + st.failed[0][reasonIndex(reasonMemoryLimit)].Load()
		var seen int64
		for _, err := range results[i] {
			if err == nil {
				accepted++
				continue
			}
			seen++
			assert.False(t, consumererror.IsPermanent(err), "a full budget is retryable: %v", err)
			assert.True(t, errors.Is(err, errQueueFull) || errors.Is(err, errMemoryLimit), "%v", err)
			assert.Contains(t, err.Error(), "tenant "+tn+", backend hung: ")
		}
		assert.Equal(t, seen, counted, "%s: every refused record is counted", tn)
		refused += seen
	}
	assert.EqualValues(t, 20, accepted, "exactly the budget's worth was taken")
	assert.EqualValues(t, 5*4*20-20, refused)
	t.Logf("batch %d bytes; 400 offered, %d accepted, %d refused; peak %d of %d", sz, accepted, refused, e.r.total.peak.Load(), cfg.TotalQueueBytes)
}

// TestFullTenantDoesNotRefuseAnother: acme's backend hangs and acme's
// producers fill its queue_bytes, refused from then on (queue_full);
// meanwhile initech, whose backend hangs too, fills exactly its own
// queue_bytes and glob streams to a healthy backend: neither sees one
// refusal.
func TestFullTenantDoesNotRefuseAnother(t *testing.T) {
	hung, release := hungBackend(t)
	ok := newOTLPServer(t, nil)
	sz := logsBytes(paddedLogs("acme", "m000-000"))
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"hung": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: hung.URL}, Retry: fastRetry()},
		"ok":   {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: ok.URL}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"ok"}, "metrics": {"ok"}, "traces": {"ok"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"ok"}, []string{"ok"}
	cfg.QueueSize = 10_000
	cfg.QueueBytes = 5 * sz
	cfg.TotalQueueBytes = 12 * sz
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [hung]}}\n  init: {backends: {logs: [hung]}}\n  glob: {}\n")
	t.Cleanup(release)

	var wg sync.WaitGroup
	var acmeErrs, initErrs, globErrs []error
	wg.Add(3)
	go func() { defer wg.Done(); acmeErrs = produce(e, "acme", 4, 50) }()
	go func() { defer wg.Done(); initErrs = produce(e, "init", 1, 5) }()
	go func() {
		defer wg.Done()
		// One batch in its queue at a time: glob never fills its own bound.
		for i := range 50 {
			globErrs = append(globErrs, e.logs.ConsumeLogs(context.Background(), paddedLogs("glob", fmt.Sprintf("m%03d-000", i))))
			for deadline := time.Now().Add(10 * time.Second); e.stats("glob", "ok").sent[0].Load() < int64(i+1) && time.Now().Before(deadline); {
				runtime.Gosched()
			}
		}
	}()
	wg.Wait()

	var acmeRefused int
	for _, err := range acmeErrs {
		if err != nil {
			acmeRefused++
			assert.ErrorIs(t, err, errQueueFull)
		}
	}
	assert.Equal(t, 200-5, acmeRefused, "acme holds its queue_bytes, no more")
	for _, err := range append(initErrs, globErrs...) {
		assert.NoError(t, err)
	}
	assert.Zero(t, e.stats("init", "hung").failed[0][reasonIndex(reasonQueueFull)].Load())
	eventually(t, "globex's batches", func() bool { return e.stats("glob", "ok").sent[0].Load() == 50 })
	assert.LessOrEqual(t, e.r.total.peak.Load(), cfg.TotalQueueBytes)
}

// TestBatchLargerThanQueueBytes is refused for good (it can never fit),
// counted too_large, not retried by the client forever.
func TestBatchLargerThanQueueBytes(t *testing.T) {
	s := newOTLPServer(t, nil)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry(), QueueBytes: 500}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	err := e.logs.ConsumeLogs(t.Context(), paddedLogs("acme", "big"))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "%v", err)
	assert.ErrorIs(t, err, errTooLarge)
	assert.EqualValues(t, 1, e.stats("acme", "remote").failed[0][reasonIndex(reasonTooLarge)].Load())
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "small"})))
	eventually(t, "the small batch", func() bool { return e.stats("acme", "remote").sent[0].Load() == 1 })
	assert.Zero(t, e.r.total.used.Load(), "bytes given back after delivery")
}
