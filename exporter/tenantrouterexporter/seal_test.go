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
// sealedQueues is a router config with a dead-until-healthy OTLP backend,
// a local store (whose keys seal the queue) and storage that outlives the
// router, as file_storage does across a restart.
type sealedQueues struct {
	healthy *atomic.Bool
	srv     *otlpServer
	storage *memStorage
	dir     string
	key     []byte
	id      component.ID
}

func newSealedQueues(t *testing.T, keyHex string) *sealedQueues {
	q := &sealedQueues{healthy: &atomic.Bool{}, storage: &memStorage{data: map[string][]byte{}}, dir: t.TempDir(), id: component.MustNewID("file_storage")}
	q.srv = newOTLPServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !q.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	t.Setenv(localstore.MasterKeyEnv, keyHex)
	var err error
	q.key, err = localstore.ParseKey(keyHex)
	require.NoError(t, err)
	return q
}

func (q *sealedQueues) start(t *testing.T) *exporters {
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: q.srv.URL}, Retry: fastRetry()},
		"store":  {Type: TypeLocalstore, Directory: q.dir},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.Storage = &q.id
	return startRouterWith(t, cfg, "tenants: {acme: {}, globex: {}}\n", map[component.ID]component.Component{q.id: q.storage})
}

// queueAndStop queues acme's and globex's logs at the dead backend and
// stops the router, leaving both batches in storage.
func (q *sealedQueues) queueAndStop(t *testing.T) {
	e := q.start(t)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "secret-acme"}, [2]string{"globex", "secret-globex"})))
	eventually(t, "failed attempts", func() bool { return q.srv.count.Load() >= 4 })
	require.Len(t, q.storage.items(), 2)
	e.stop(t)
}

// shred shreds acme in the store, as tenancyctl does while the router is
// down, and clears its tombstone too when clear is set.
func (q *sealedQueues) shred(t *testing.T, clear bool) {
	ls, err := localstore.Open(q.dir, q.key)
	require.NoError(t, err)
	defer ls.Close()
	_, err = ls.Shred("acme", "erasure request", "v1")
	require.NoError(t, err)
	if clear {
		_, err = ls.ClearTombstone("acme", "op")
		require.NoError(t, err)
	}
}

// restart starts the router again with the backend up and waits until
// globex's batch is delivered and storage is empty; no acme batch is sent.
func (q *sealedQueues) restart(t *testing.T) *exporters {
	q.healthy.Store(true)
	before := len(q.srv.requests())
	e := q.start(t)
	eventually(t, "globex delivered, acme's batch dropped", func() bool {
		return e.stats("globex", "remote").sent[0].Load() == 1 && len(q.storage.items()) == 0
	})
	for _, rq := range q.srv.requests()[before:] {
		assert.NotEqual(t, "acme", rq.tenant, "an erased tenant's queued batch was sent")
	}
	return e
}

// Batches queued in storage are sealed with their tenant's data key;
// shredding a tenant leaves its queued batches unreadable, and the router
// drops them after a restart and refuses the tenant's new data, while the
// other tenants' batches are delivered.
func TestQueuedBatchesAreSealedAndShreddingPurgesThem(t *testing.T) {
	q := newSealedQueues(t, strings.Repeat("d4", 32))
	q.queueAndStop(t)
	q.storage.mu.Lock()
	for k, v := range q.storage.data {
		assert.False(t, bytes.Contains(v, []byte("secret-")), "%s holds a record in clear", k)
	}
	q.storage.mu.Unlock()
	q.shred(t, false)
	e := q.restart(t)
	err := e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "after-shred"}))
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "crypto-shredded")
	assert.EqualValues(t, 1, e.stats("acme", "store").failed[0][reasonIndex(reasonShredded)].Load())
}

// A tenant shredded and its id cleared while the erased tenant's batches
// wait in storage: the router still starts, drops them (no key of the
// store opens them) and delivers the rest.
func TestQueuedBatchesOfAClearedTenantAreDropped(t *testing.T) {
	q := newSealedQueues(t, strings.Repeat("f6", 32))
	q.queueAndStop(t)
	q.shred(t, true)
	q.restart(t)
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
