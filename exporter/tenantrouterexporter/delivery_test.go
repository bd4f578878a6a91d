package tenantrouterexporter

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
)

// TestWaitForDelivery: with wait_for_delivery the pipeline is answered
// only once the backend took the batch; a retryable failure comes back
// after one attempt (the caller retries it, not the queue), a permanent
// one as permanent.
func TestWaitForDelivery(t *testing.T) {
	var status atomic.Int64
	status.Store(http.StatusOK)
	release := make(chan struct{})
	s := newOTLPServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, "x")
	})
	cfg := createDefaultConfig().(*Config)
	cfg.WaitForDelivery = true
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()}}
	otlpOnly(cfg, "remote")
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	st := e.stats("acme", "remote")

	done := make(chan error, 1)
	go func() { done <- e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a"})) }()
	eventually(t, "the send in flight", func() bool { return s.count.Load() == 1 })
	select {
	case err := <-done:
		t.Fatalf("answered before the backend took the batch: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-done)
	assert.EqualValues(t, 1, st.sent[0].Load())

	status.Store(http.StatusServiceUnavailable)
	err := e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "b"}))
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "retryable: %v", err)
	assert.EqualValues(t, 2, s.count.Load(), "one attempt, no retry in the queue")
	assert.Zero(t, st.size.Load(), "nothing left queued")
	assert.Zero(t, st.failed[0][reasonIndex(reasonRetriesExhausted)].Load(), "not lost: the caller keeps it")

	status.Store(http.StatusBadRequest)
	err = e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "c"}))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "%v", err)
	assert.EqualValues(t, 1, st.failed[0][reasonIndex(reasonPermanent)].Load())
}

func TestWaitForDeliveryExcludesStorage(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.WaitForDelivery = true
	id := component.MustNewID("file_storage")
	cfg.Storage = &id
	cfg.Backends = map[string]*BackendConfig{"local": {Type: TypeLocalstore, Directory: t.TempDir()}}
	assert.ErrorContains(t, cfg.Validate(), "wait_for_delivery")
}
