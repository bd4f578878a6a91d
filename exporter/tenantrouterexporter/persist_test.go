package tenantrouterexporter

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// memStorage is a storage extension whose data outlives the router, as
// file_storage's does across a restart.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu      sync.Mutex
	data    map[string][]byte
	failing atomic.Bool // every write fails
}

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return m, nil
}

func (m *memStorage) Get(_ context.Context, k string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.data[k], nil
}

func (m *memStorage) Set(_ context.Context, k string, v []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[k] = append([]byte(nil), v...)
	return nil
}

func (m *memStorage) Delete(_ context.Context, k string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, k)
	return nil
}

func (m *memStorage) Batch(ctx context.Context, ops ...*storage.Operation) error {
	if m.failing.Load() {
		return errors.New("disk full")
	}
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			_ = m.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			_ = m.Delete(ctx, op.Key)
		case storage.Get:
			op.Value, _ = m.Get(ctx, op.Key)
		}
	}
	return nil
}

func (m *memStorage) Close(context.Context) error { return nil }

func (m *memStorage) items() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		if !strings.HasSuffix(k, "/index") && k != journalRegistry {
			out = append(out, k)
		}
	}
	return out
}

func TestQueuedBatchesSurviveARestart(t *testing.T) {
	var healthy atomic.Bool
	s := newOTLPServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	store := &memStorage{data: map[string][]byte{}}
	storageID := component.MustNewID("file_storage")
	newCfg := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()}}
		cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
		cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
		cfg.Storage = &storageID
		return cfg
	}
	const pol = "tenants: {acme: {}, globex: {}}\n"
	e := startRouterWith(t, newCfg(), pol, map[component.ID]component.Component{storageID: store})
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "kept-1"}, [2]string{"globex", "kept-2"})))
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().Resource().Attributes().PutStr("tenant.id", "acme")
	m := md.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("kept")
	m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("unstamped")
	require.NoError(t, e.traces.ConsumeTraces(t.Context(), td))
	eventually(t, "failed attempts", func() bool { return s.count.Load() >= 4 })
	assert.Len(t, store.items(), 4, "each queued batch is in storage")
	e.stop(t)
	assert.Zero(t, e.stats("acme", "remote").failed[0][reasonIndex(reasonShutdown)].Load(), "kept, not lost")
	assert.Len(t, store.items(), 4)

	// The next run sends them once the backend is back.
	healthy.Store(true)
	before := len(s.requests())
	e2 := startRouterWith(t, newCfg(), pol, map[component.ID]component.Component{storageID: store})
	eventually(t, "the restored batches", func() bool {
		return e2.stats("acme", "remote").sent[0].Load() == 1 && e2.stats("globex", "remote").sent[0].Load() == 1 &&
			e2.stats("acme", "remote").sent[1].Load() == 1 && e2.stats(policy.Quarantine, "remote").sent[2].Load() == 1
	})
	eventually(t, "storage emptied", func() bool { return len(store.items()) == 0 })
	var markers []string
	for _, rq := range s.requests()[before:] {
		if rq.path == "/v1/logs" {
			assert.Equal(t, []string{"kept-" + map[string]string{"acme": "1", "globex": "2"}[rq.tenant]}, rq.markers)
			markers = append(markers, rq.markers...)
		}
	}
	assert.ElementsMatch(t, []string{"kept-1", "kept-2"}, markers)
}

// TestJournalFailureRefusesTheBatch: with storage configured, a batch the
// journal cannot write is refused with a retryable error the caller sees
// and counted (storage), never acknowledged and held in memory only; once
// storage works again the client's retry is accepted and delivered.
func TestJournalFailureRefusesTheBatch(t *testing.T) {
	s := newOTLPServer(t, nil)
	store := &memStorage{data: map[string][]byte{}}
	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
	cfg.Storage = &storageID
	e := startRouterWith(t, cfg, "tenants: {acme: {}}\n", map[component.ID]component.Component{storageID: store})

	store.failing.Store(true)
	err := e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "unpersisted"}))
	require.Error(t, err, "the caller sees the refusal")
	assert.False(t, consumererror.IsPermanent(err), "retryable: %v", err)
	assert.Contains(t, err.Error(), "disk full")
	st := e.stats("acme", "remote")
	assert.EqualValues(t, 1, st.failed[0][reasonIndex(reasonStorage)].Load())
	assert.Zero(t, st.size.Load(), "not queued in memory")
	assert.Zero(t, st.bytes.Load())
	assert.Zero(t, e.r.total.used.Load(), "its bytes given back")

	store.failing.Store(false)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "retried"})))
	eventually(t, "the retry delivered", func() bool { return st.sent[0].Load() == 1 })
	var markers []string
	for _, rq := range s.requests() {
		markers = append(markers, rq.markers...)
	}
	assert.Equal(t, []string{"retried"}, markers)
}
