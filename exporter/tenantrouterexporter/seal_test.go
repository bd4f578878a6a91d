package tenantrouterexporter

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Batches queued in storage are sealed with their tenant's data key;
// shredding a tenant leaves its queued batches unreadable, and the router
// drops them after a restart and refuses the tenant's new data, while the
// other tenants' batches are delivered.
func TestQueuedBatchesAreSealedAndShreddingPurgesThem(t *testing.T) {
	var healthy atomic.Bool
	s := newOTLPServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	keyHex := strings.Repeat("d4", 32)
	t.Setenv(localstore.MasterKeyEnv, keyHex)
	dir := t.TempDir()
	store := &memStorage{data: map[string][]byte{}}
	storageID := component.MustNewID("file_storage")
	newCfg := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{
			"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()},
			"store":  {Type: TypeLocalstore, Directory: dir},
		}
		cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
		cfg.Storage = &storageID
		return cfg
	}
	const pol = "tenants: {acme: {}, globex: {}}\n"
	e := startRouterWith(t, newCfg(), pol, map[component.ID]component.Component{storageID: store})
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "secret-acme"}, [2]string{"globex", "secret-globex"})))
	eventually(t, "failed attempts", func() bool { return s.count.Load() >= 4 })
	require.Len(t, store.items(), 2)
	store.mu.Lock()
	for k, v := range store.data {
		assert.False(t, bytes.Contains(v, []byte("secret-")), "%s holds a record in clear", k)
	}
	store.mu.Unlock()
	e.stop(t)

	key, err := localstore.ParseKey(keyHex)
	require.NoError(t, err)
	ls, err := localstore.Open(dir, key)
	require.NoError(t, err)
	_, err = ls.Shred("acme", "erasure request", "v1")
	require.NoError(t, err)
	require.NoError(t, ls.Close())

	healthy.Store(true)
	before := len(s.requests())
	e2 := startRouterWith(t, newCfg(), pol, map[component.ID]component.Component{storageID: store})
	eventually(t, "globex delivered, acme purged", func() bool {
		return e2.stats("globex", "remote").sent[0].Load() == 1 && len(store.items()) == 0
	})
	for _, rq := range s.requests()[before:] {
		assert.NotEqual(t, "acme", rq.tenant, "a shredded tenant's queued batch was sent")
	}
	err = e2.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "after-shred"}))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "crypto-shredded")
	assert.EqualValues(t, 1, e2.stats("acme", "store").failed[0][reasonIndex(reasonShredded)].Load())
}

// A batch the previous version queued in clear is still read and sent.
func TestPlainQueuedBatchFromThePreviousVersionIsSent(t *testing.T) {
	s := newOTLPServer(t, nil)
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("e5", 32))
	store := &memStorage{data: map[string][]byte{}}
	k := statsKey{"acme", "remote"}
	_, err := newJournal(store, nil).add(t.Context(), k, batch{signal: policy.SignalLogs, logs: logsFor([2]string{"acme", "queued-before"}), policyVersion: "v0"})
	require.NoError(t, err)

	storageID := component.MustNewID("file_storage")
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()},
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.Storage = &storageID
	e := startRouterWith(t, cfg, "tenants: {acme: {}}\n", map[component.ID]component.Component{storageID: store})
	eventually(t, "the plain batch delivered", func() bool { return e.stats("acme", "remote").sent[0].Load() == 1 })
	require.Len(t, s.requests(), 1)
	assert.Equal(t, []string{"queued-before"}, s.requests()[0].markers)
}
