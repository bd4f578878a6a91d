package tenantrouterexporter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/stretchr/testify/require"
	"github.com/tenancyhq/tenancy/internal/policy"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// A batch only OTLP/HTTP backends take is marshaled into memory that is
// another tenant's request next (internal/otlpbuf). Here four tenants'
// large batches cross a real HTTP server that answers every third request
// 503 before reading its body, so the transport is often still writing a
// body when the call returns and the batch is retried or released: every
// body the server reads whole holds only the tenant its header names, and
// every record arrives. Run under -race.
func TestReusedMemoryCarriesOnlyItsTenant(t *testing.T) {
	var n atomic.Int64
	tally := &tenantTally{got: map[string]int{}}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable) // before the body
			return
		}
		if !tally.read(r) {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(s.Close)
	sendEachTenant(t, confighttp.ClientConfig{Endpoint: s.URL}, tally, 4, 12, 1500)
}

// tenantTally counts what a test backend read whole: each tenant's
// records by the request's tenant header, and any record in a request
// that is not its own tenant's (its body names its tenant first).
type tenantTally struct {
	mu      sync.Mutex
	got     map[string]int
	foreign []string
}

// read tallies r's OTLP logs request; false when the body could not be
// read or does not parse (noted as foreign: the caller answers 400).
func (c *tenantTally) read(r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	tenant := r.Header.Get(DefaultTenantHeader)
	req := plogotlp.NewExportRequest()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := req.UnmarshalProto(body); err != nil {
		c.foreign = append(c.foreign, fmt.Sprintf("%s: a body that does not parse: %v", tenant, err))
		return false
	}
	rls := req.Logs().ResourceLogs()
	for i := range rls.Len() {
		lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
		for j := range lrs.Len() {
			if b := lrs.At(j).Body().Str(); !strings.HasPrefix(b, tenant+" ") {
				c.foreign = append(c.foreign, fmt.Sprintf("%q in %s's request", b, tenant))
			}
		}
		c.got[tenant] += lrs.Len()
	}
	return true
}

func (c *tenantTally) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.got {
		n += v
	}
	return n
}

// sendEachTenant routes tenant0..tenants-1's logs, batches of records
// each, sent at once from a goroutine per tenant, to one OTLP/HTTP
// backend at cc (in reused memory), and checks the tally: no record in
// another tenant's request, and every record arrived.
func sendEachTenant(t *testing.T, cc confighttp.ClientConfig, tally *tenantTally, tenants, batches, records int) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: cc, Retry: fastRetry(), Consumers: 2}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
	var pol strings.Builder
	pol.WriteString("tenants:\n")
	for i := range tenants {
		fmt.Fprintf(&pol, "  tenant%d: {}\n", i)
	}
	e := startRouter(t, cfg, pol.String())
	_, pool := e.r.protoUse([]string{"remote"}, []string{"remote"})
	require.True(t, pool, "this router's batches are not in reused memory: the test proves nothing")

	var wg sync.WaitGroup
	for i := range tenants {
		tenant := fmt.Sprintf("tenant%d", i)
		wg.Go(func() {
			for b := range batches {
				lines := make([]string, records)
				for k := range lines {
					lines[k] = fmt.Sprintf("%s batch %d record %d %s", tenant, b, k, strings.Repeat(tenant[len(tenant)-1:], 80))
				}
				assert.NoError(t, e.logs.ConsumeLogs(t.Context(), batchOf(tenant, "m", lines)))
			}
		})
	}
	wg.Wait()
	// Not eventually: a body of mixed tenants is refused (400) for good,
	// so its records never come, and the foreign ones are the finding.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && tally.total() < tenants*batches*records; {
		time.Sleep(10 * time.Millisecond)
	}
	tally.mu.Lock()
	defer tally.mu.Unlock()
	assert.Empty(t, tally.foreign)
	for i := range tenants {
		assert.Equal(t, batches*records, tally.got[fmt.Sprintf("tenant%d", i)])
	}
}

// Where a Kafka backend may take the batch, named or fallen back to when
// no named backend may (residency, no id there), its bytes are its own:
// franz-go may hold a record's value after the send gave up.
func TestNoReusedMemoryWhereKafkaMayTakeIt(t *testing.T) {
	bus, err := newKafkaBackend("bus", kafkaBackendConfig("127.0.0.1:1", ""))
	require.NoError(t, err)
	r := &router{backends: map[string]backend{"remote": &otlpHTTPBackend{}, "bus": bus, "store": &localstoreBackend{}}}
	for _, c := range []struct {
		names, fallback []string
		marshal, pool   bool
	}{
		{[]string{"remote"}, nil, true, true},
		{[]string{"remote"}, []string{"remote"}, true, true},
		{[]string{"remote", "store"}, []string{"store"}, true, true},
		{[]string{"store"}, []string{"store"}, false, true},
		{[]string{"remote", "bus"}, nil, true, false},
		{[]string{"remote"}, []string{"bus"}, true, false}, // the fallback
		{[]string{"store"}, []string{"remote", "bus"}, false, false},
	} {
		marshal, pool := r.protoUse(c.names, c.fallback)
		assert.Equal(t, c.marshal, marshal, "%v, fallback %v", c.names, c.fallback)
		assert.Equal(t, c.pool, pool, "%v, fallback %v", c.names, c.fallback)
	}

	// And the Kafka backend, given reused bytes anyway, copies them.
	b := batch{signal: policy.SignalLogs, logs: logsFor([2]string{"acme", "m"}), records: 1}
	b.sizeForQueues(true, true)
	require.NotNil(t, b.buf)
	defer b.buf.Drop()
	recs, err := bus.records("t", "acme", b)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, b.proto, recs[0].Value)
	assert.NotSame(t, &b.proto[0], &recs[0].Value[0], "a Kafka record's value is the reused memory")
}

// A request refused before it reaches the transport (no id for the
// tenant under tenant_ids) closes its body, so the body's reference goes
// and the memory can be reused (h29r: it stayed held, and the buffer was
// lost to the free list).
func TestRefusedRequestLetsGoOfItsBody(t *testing.T) {
	o := newOTLPHTTPBackend("remote", &BackendConfig{Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"},
		TenantIDs: map[string]string{"globex": "g"}})
	b := acmeBatch()
	b.sizeForQueues(true, true)
	require.NotNil(t, b.buf)
	err := o.send(t.Context(), "acme", b)
	require.Error(t, err)
	b.buf.Drop() // the queue's, the last one held outside the body
	assert.False(t, b.buf.Hold(), "the refused request's body still holds the memory")
}

// A batch whose reused memory was already released (a bug) is refused for
// good at the queue, not sent and not a crash.
func TestReleasedBatchIsRefusedNotSent(t *testing.T) {
	s := newOTLPServer(t, nil)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	q, err := e.r.queue("acme", "remote")
	require.NoError(t, err)
	b := acmeBatch()
	b.sizeForQueues(true, true)
	require.NotNil(t, b.buf)
	b.buf.Drop()
	err = q.offer(b)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Zero(t, q.stats.size.Load(), "queued")
}

// acmeBatch is a batch of acme's logs large enough to be marshaled into
// reused memory.
func acmeBatch() batch {
	lines := make([]string, 1500)
	for i := range lines {
		lines[i] = fmt.Sprintf("acme record %d %s", i, strings.Repeat("a", 40))
	}
	return batch{signal: policy.SignalLogs, logs: batchOf("acme", "m", lines), records: len(lines)}
}
