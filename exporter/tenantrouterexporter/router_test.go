package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

func hostWith(t testing.TB, policyYAML string, extra map[component.ID]component.Component) component.Host {
	t.Helper()
	p, err := policy.Parse("tenants.yaml", []byte(policyYAML))
	require.NoError(t, err)
	return policytest.NewHost(policy.Static{P: p}, extra)
}

// exporters are the three signal exporters of one router, started.
type exporters struct {
	logs    exporter.Logs
	metrics exporter.Metrics
	traces  exporter.Traces
	r       *router
	stopped bool
}

func startRouter(t testing.TB, cfg *Config, policyYAML string) *exporters {
	t.Helper()
	return startRouterWith(t, cfg, policyYAML, nil)
}

func startRouterWith(t testing.TB, cfg *Config, policyYAML string, extra map[component.ID]component.Component) *exporters {
	t.Helper()
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	set := exportertest.NewNopSettings(f.Type())
	ctx := context.Background()
	l, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	m, err := f.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	tr, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	host := hostWith(t, policyYAML, extra)
	for _, c := range []component.Component{l, m, tr} {
		require.NoError(t, c.Start(ctx, host))
	}
	e := &exporters{logs: l, metrics: m, traces: tr, r: routerOf(t, cfg)}
	t.Cleanup(func() { e.stop(t) })
	return e
}

// routerOf is the router the exporters of cfg share, which they created.
func routerOf(t testing.TB, cfg *Config) *router {
	t.Helper()
	c, err := routers.LoadOrStore(cfg, func() (*router, error) { return nil, errors.New("no router for this config") })
	require.NoError(t, err)
	return c.Unwrap()
}

func (e *exporters) stop(t testing.TB) {
	if e.stopped {
		return
	}
	e.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []component.Component{e.logs, e.metrics, e.traces} {
		assert.NoError(t, c.Shutdown(ctx))
	}
}

func (e *exporters) stats(tenant, backend string) *queueStats { return e.r.tel.of(tenant, backend) }

// logsFor builds one batch with a resource per (tenant, marker) pair; an
// empty tenant leaves tenant.id unset.
func logsFor(pairs ...[2]string) plog.Logs {
	ld := plog.NewLogs()
	for _, p := range pairs {
		rl := ld.ResourceLogs().AppendEmpty()
		if p[0] != "" {
			rl.Resource().Attributes().PutStr("tenant.id", p[0])
		}
		rl.Resource().Attributes().PutStr("marker", p[1])
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(p[1])
	}
	return ld
}

// received is one request an OTLP/HTTP test backend got.
type received struct {
	at      time.Time
	tenant  string
	path    string
	tenants []string // tenant.id of each resource in the payload
	markers []string
}

// otlpServer is a test backend; respond decides each answer.
type otlpServer struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(n int, w http.ResponseWriter, r *http.Request) // n counts requests from 0
	count   atomic.Int64
}

func newOTLPServer(t testing.TB, respond func(n int, w http.ResponseWriter, r *http.Request)) *otlpServer {
	s := &otlpServer{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := received{at: time.Now(), tenant: r.Header.Get(DefaultTenantHeader), path: r.URL.Path}
		if strings.HasSuffix(r.URL.Path, "/v1/logs") {
			req := plogotlp.NewExportRequest()
			if assert.NoError(t, req.UnmarshalProto(body)) {
				rls := req.Logs().ResourceLogs()
				for i := 0; i < rls.Len(); i++ {
					attrs := rls.At(i).Resource().Attributes()
					get := func(k string) string {
						if v, ok := attrs.Get(k); ok {
							return v.AsString()
						}
						return ""
					}
					rec.tenants = append(rec.tenants, get("tenant.id"))
					rec.markers = append(rec.markers, get("marker"))
				}
			}
		}
		n := int(s.count.Add(1) - 1)
		s.mu.Lock()
		s.got = append(s.got, rec)
		s.mu.Unlock()
		if s.respond != nil {
			s.respond(n, w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *otlpServer) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func fastRetry() *configretry.BackOffConfig {
	return &configretry.BackOffConfig{Enabled: true, InitialInterval: 20 * time.Millisecond, Multiplier: 1.5, MaxInterval: 100 * time.Millisecond, MaxElapsedTime: time.Minute}
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const twoTenants = `
tenants:
  acme: {backends: {logs: [a]}}
  globex: {backends: {logs: [b]}}
`

// TestDeadBackendDoesNotDelayOtherTenants: acme's backend answers 503 (or
// hangs); globex's data, sent after acme's, arrives while acme's queue is
// still retrying, and acme's arrives once its backend recovers.
func TestDeadBackendDoesNotDelayOtherTenants(t *testing.T) {
	for _, mode := range []string{"503", "hang"} {
		t.Run(mode, func(t *testing.T) {
			var healthy atomic.Bool
			release := make(chan struct{})
			a := newOTLPServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				if healthy.Load() {
					return
				}
				if mode == "hang" {
					select {
					case <-release:
					case <-r.Context().Done():
					}
					return
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			})
			b := newOTLPServer(t, nil)
			cfg := createDefaultConfig().(*Config)
			cfg.Backends = map[string]*BackendConfig{
				"store": {Type: TypeLocalstore, Directory: t.TempDir()},
				"a":     {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: a.URL, Timeout: 200 * time.Millisecond}, Retry: fastRetry()},
				"b":     {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: b.URL}, Retry: fastRetry()},
			}
			t.Setenv(localstore.MasterKeyEnv, strings.Repeat("ab", 32))
			e := startRouter(t, cfg, twoTenants)

			require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a-1"})))
			eventually(t, "acme's first attempt", func() bool { return a.count.Load() >= 1 })
			sentAt := time.Now()
			require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"globex", "g-1"})))
			eventually(t, "globex's batch", func() bool { return len(b.requests()) == 1 })
			latency := b.requests()[0].at.Sub(sentAt)

			// globex arrived while acme's batch was still in its queue.
			as := e.stats("acme", "a")
			assert.Equal(t, int64(1), as.size.Load(), "acme's batch still queued")
			assert.Zero(t, as.sent[0].Load())
			// The server has seen globex's request before the router has
			// its answer and counts the batch sent.
			gs := e.stats("globex", "b")
			eventually(t, "globex's batch counted as sent", func() bool { return gs.sent[0].Load() == 1 })
			t.Logf("%s: globex delivered %s after it was consumed, acme at %d attempts", mode, latency, a.count.Load())

			eventually(t, "acme's batch to be retried", func() bool { return a.count.Load() >= 2 })
			assert.Equal(t, int64(1), as.size.Load(), "still queued while retrying")
			healthy.Store(true)
			close(release)
			eventually(t, "acme's batch after recovery", func() bool { return as.sent[0].Load() == 1 })
			assert.Positive(t, as.retries.Load())
			for _, rq := range a.requests() {
				assert.Equal(t, "acme", rq.tenant)
				assert.Equal(t, []string{"a-1"}, rq.markers)
			}
		})
	}
}

// TestShutdownPastItsDeadline: a backend that does not answer holds a
// batch when the collector's shutdown deadline passes. Shutdown gives up
// the send, counts the batch as lost to the shutdown and returns the
// deadline's error; and the router is forgotten all the same, so exporters
// created again from the same config get a new one that takes batches.
func TestShutdownPastItsDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := newOTLPServer(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"slow": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL}, Retry: fastRetry()}}
	otlpOnly(cfg, "slow")
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "d1"})))
	eventually(t, "the send in flight", func() bool { return srv.count.Load() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	e.stopped = true
	var errs []error
	for _, c := range []component.Component{e.logs, e.metrics, e.traces} {
		errs = append(errs, c.Shutdown(ctx))
	}
	require.ErrorIs(t, errors.Join(errs...), context.DeadlineExceeded)
	assert.EqualValues(t, 1, e.stats("acme", "slow").failed[0][reasonIndex(reasonShutdown)].Load())

	close(release)
	again := startRouter(t, cfg, "tenants: {acme: {}}\n")
	assert.True(t, e.r != again.r, "a new router, not the stopped one")
	require.NoError(t, again.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "d2"})))
	eventually(t, "the batch after the restart", func() bool { return again.stats("acme", "slow").sent[0].Load() == 1 })
}

// stuckBackend's sends return only once released, whatever their context
// says: a send that does not honour cancellation.
type stuckBackend struct {
	release  chan struct{}
	inFlight *atomic.Int64
}

func (s stuckBackend) send(context.Context, string, batch) error {
	s.inFlight.Add(1)
	<-s.release
	return nil
}
func (stuckBackend) start(context.Context, component.Host, *router) error { return nil }
func (stuckBackend) shutdown(context.Context) error                       { return nil }

// TestShutdownPastItsDeadlineIsBounded: with every queue stuck in a send
// that ignores cancellation, a shutdown past its deadline still returns
// within one grace period, not one per queue.
func TestShutdownPastItsDeadlineIsBounded(t *testing.T) {
	defer func(g time.Duration) { abandonGrace = g }(abandonGrace)
	abandonGrace = 200 * time.Millisecond
	const tenants = 6
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"stuck": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"}}}
	otlpOnly(cfg, "stuck")
	var pol strings.Builder
	pol.WriteString("tenants:\n")
	var pairs [][2]string
	for i := range tenants {
		id := fmt.Sprintf("t%d", i)
		fmt.Fprintf(&pol, "  %s: {}\n", id)
		pairs = append(pairs, [2]string{id, id})
	}
	e := startRouter(t, cfg, pol.String())
	stuck := stuckBackend{release: make(chan struct{}), inFlight: &atomic.Int64{}}
	t.Cleanup(func() { close(stuck.release) }) // lets the queue goroutines end before goleak looks
	e.r.backends["stuck"] = stuck
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor(pairs...)))
	eventually(t, "a send in flight in every queue", func() bool { return stuck.inFlight.Load() == tenants })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	e.stopped = true
	began := time.Now()
	var errs []error
	for _, c := range []component.Component{e.logs, e.metrics, e.traces} {
		errs = append(errs, c.Shutdown(ctx))
	}
	took := time.Since(began)
	require.ErrorIs(t, errors.Join(errs...), context.DeadlineExceeded)
	assert.Less(t, took, 3*abandonGrace, "one grace for all %d queues", tenants)
}

func TestPermanentErrorIsCounted(t *testing.T) {
	s := newOTLPServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends = []string{"remote"}
	cfg.GovernanceBackends = []string{"remote"}
	e := startRouter(t, cfg, twoTenants)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "x"}, [2]string{"acme", "y"})))
	st := e.stats("acme", "remote")
	eventually(t, "the permanent failure", func() bool { return st.failed[0][reasonIndex(reasonPermanent)].Load() == 2 })
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, int64(1), s.count.Load(), "a 400 is not retried")
	assert.Zero(t, st.retries.Load())
	assert.Zero(t, st.size.Load())

	err := classify(&http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader(strings.Repeat("y", 5000))), Header: http.Header{}})
	assert.LessOrEqual(t, len(err.Error()), 1100, "at most 1 KiB of the body is quoted")
}

func TestRetryAfterIsHonoured(t *testing.T) {
	s := newOTLPServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
		"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("cd", 32))
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "x"})))
	eventually(t, "the retried request", func() bool { return len(s.requests()) == 2 })
	rq := s.requests()
	gap := rq[1].at.Sub(rq[0].at)
	assert.GreaterOrEqual(t, gap, 950*time.Millisecond, "Retry-After: 1 beats the 20ms backoff")
	assert.Less(t, gap, 3*time.Second)
	assert.Equal(t, int64(1), e.stats("acme", "remote").retries.Load())
	eventually(t, "sent", func() bool { return e.stats("acme", "remote").sent[0].Load() == 1 })

	assert.Equal(t, 2*time.Second, parseRetryAfter("2", time.Now()))
	now := time.Now()
	assert.InDelta(t, float64(10*time.Second), float64(parseRetryAfter(now.Add(10*time.Second).UTC().Format(http.TimeFormat), now)), float64(time.Second))
	assert.Zero(t, parseRetryAfter("soon", now))
}

// TestOneRequestPerTenant: a batch mixing three tenants and an unstamped
// resource becomes one request per tenant, each with its own header and
// only its own resources; the unstamped one goes to _quarantine.
func TestOneRequestPerTenant(t *testing.T) {
	s := newOTLPServer(t, nil)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL + "/otlp/"}, Retry: fastRetry()}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends = []string{"remote"}
	cfg.GovernanceBackends = []string{"remote"}
	e := startRouter(t, cfg, "tenants: {acme: {}, globex: {}, initech: {}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor(
		[2]string{"acme", "a1"}, [2]string{"globex", "g1"}, [2]string{"acme", "a2"},
		[2]string{"", "nobody"}, [2]string{"initech", "i1"}, [2]string{"hooli", "unknown"}, [2]string{"_secret", "reserved"})))
	eventually(t, "four requests", func() bool { return len(s.requests()) == 4 })
	byTenant := map[string]received{}
	for _, rq := range s.requests() {
		assert.Equal(t, "/otlp/v1/logs", rq.path)
		_, dup := byTenant[rq.tenant]
		assert.False(t, dup, "two requests for %s", rq.tenant)
		byTenant[rq.tenant] = rq
	}
	assert.Equal(t, []string{"a1", "a2"}, byTenant["acme"].markers)
	assert.Equal(t, []string{"g1"}, byTenant["globex"].markers)
	assert.Equal(t, []string{"i1"}, byTenant["initech"].markers)
	assert.ElementsMatch(t, []string{"nobody", "unknown", "reserved"}, byTenant[policy.Quarantine].markers)
	for _, tn := range []string{"acme", "globex", "initech"} {
		for _, id := range byTenant[tn].tenants {
			assert.Equal(t, tn, id)
		}
	}
}

// TestMetricsAndTracesToLocalstore checks the other signals' split and the
// store's per-tenant files through the router.
func TestMetricsAndTracesToLocalstore(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("ef", 32)
	t.Setenv(localstore.MasterKeyEnv, key)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir}}
	e := startRouter(t, cfg, "tenants: {acme: {}, globex: {}}\n")
	md := pmetric.NewMetrics()
	td := ptrace.NewTraces()
	for _, tn := range []string{"acme", "globex", ""} {
		rm := md.ResourceMetrics().AppendEmpty()
		rs := td.ResourceSpans().AppendEmpty()
		if tn != "" {
			rm.Resource().Attributes().PutStr("tenant.id", tn)
			rs.Resource().Attributes().PutStr("tenant.id", tn)
		}
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("m_" + tn)
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
		rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("s_" + tn)
	}
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	require.NoError(t, e.traces.ConsumeTraces(t.Context(), td))
	e.stop(t)

	k, err := localstore.ParseKey(key)
	require.NoError(t, err)
	s, err := localstore.Open(dir, k)
	require.NoError(t, err)
	defer s.Close()
	q := func(tenant, sql string) [][]any {
		res, err := s.Query(t.Context(), tenant, sql, localstore.QueryOptions{}, "")
		require.NoError(t, err)
		return res.Rows
	}
	assert.Equal(t, [][]any{{"m_acme"}}, q("acme", "SELECT metric_name FROM datapoints"))
	assert.Equal(t, [][]any{{"s_globex"}}, q("globex", "SELECT name FROM spans"))
	assert.Equal(t, [][]any{{"s_", "no_tenant"}}, q(policy.Quarantine, `SELECT name, json_extract(resource, '$."tenant.quarantine.reason"') FROM spans`))
}

// TestPropertyNoCrossing: random tenants and records through a localstore
// and an OTLP/HTTP backend; no resource ever lands in another tenant's
// request or file.
func TestPropertyNoCrossing(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	s := newOTLPServer(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%7 == 3 { // some retries on the way
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	dir := t.TempDir()
	key := strings.Repeat("12", 32)
	t.Setenv(localstore.MasterKeyEnv, key)
	tenants := []string{"t0", "t1", "t2", "t3", "t4", "t5"}
	var pol strings.Builder
	pol.WriteString("tenants:\n")
	for _, tn := range tenants {
		fmt.Fprintf(&pol, "  %s: {backends: {logs: [store, remote]}}\n", tn)
	}
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: dir},
		"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry()},
	}
	e := startRouter(t, cfg, pol.String())
	owner := map[string]string{} // marker -> tenant it belongs to
	claims := append(append([]string{}, tenants...), "", "intruder", "../t1", "_x")
	for b := range 40 {
		var pairs [][2]string
		for r := range 1 + rng.IntN(8) {
			claim := claims[rng.IntN(len(claims))]
			marker := fmt.Sprintf("mk-%d-%d", b, r)
			want := claim
			if !strings.HasPrefix(claim, "t") {
				want = policy.Quarantine
			}
			owner[marker] = want
			pairs = append(pairs, [2]string{claim, marker})
		}
		require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor(pairs...)))
	}
	wantRemote := 0
	for _, o := range owner {
		if o != policy.Quarantine {
			wantRemote++
		}
	}
	eventually(t, "every remote record", func() bool {
		n := 0
		for _, tn := range tenants {
			n += int(e.stats(tn, "remote").sent[0].Load())
		}
		return n == wantRemote
	})
	seen := 0
	for _, rq := range s.requests() {
		for i, m := range rq.markers {
			assert.Equal(t, rq.tenant, owner[m], "marker %s in %s's request", m, rq.tenant)
			assert.Equal(t, rq.tenant, rq.tenants[i])
		}
		seen++
	}
	e.stop(t)
	k, _ := localstore.ParseKey(key)
	st, err := localstore.Open(dir, k)
	require.NoError(t, err)
	defer st.Close()
	stored := 0
	for _, tn := range append(tenants, policy.Quarantine) {
		res, err := st.Query(t.Context(), tn, `SELECT json_extract(resource, '$.marker') FROM logs`, localstore.QueryOptions{}, "")
		if err != nil {
			continue // a tenant the dice never picked
		}
		for _, row := range res.Rows {
			assert.Equal(t, tn, owner[row[0].(string)], "marker %v in %s's file", row[0], tn)
			stored++
		}
	}
	assert.Equal(t, len(owner), stored)
}

// TestConsumersSendInParallel: with consumers: 3, three of one tenant's
// batches are in flight to a slow backend at once.
func TestConsumersSendInParallel(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	s := newOTLPServer(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		<-release
		inFlight.Add(-1)
	})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry(), Consumers: 3}}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	for i := range 5 {
		require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", fmt.Sprint(i)})))
	}
	eventually(t, "three in flight", func() bool { return peak.Load() == 3 })
	close(release)
	eventually(t, "all sent", func() bool { return e.stats("acme", "remote").sent[0].Load() == 5 })
	assert.Equal(t, int64(3), peak.Load())
}

// TestShutdownUnregistersSelfMetrics: a stopped router's series leave the
// meter provider with it; its callbacks would otherwise keep reading the
// stopped router's counters (and the router itself) for as long as the
// provider lives, once per router a restart creates.
func TestShutdownUnregistersSelfMetrics(t *testing.T) {
	srv := newOTLPServer(t, func(int, http.ResponseWriter, *http.Request) {})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL}, Retry: fastRetry()}}
	otlpOnly(cfg, "remote")
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	f := NewFactory()
	set := exportertest.NewNopSettings(f.Type())
	set.TelemetrySettings = tel.NewTelemetrySettings()
	ctx := t.Context()
	l, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	m, err := f.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	host := hostWith(t, "tenants: {acme: {}}\n", nil)
	require.NoError(t, l.Start(ctx, host))
	require.NoError(t, m.Start(ctx, host))
	require.NoError(t, l.ConsumeLogs(ctx, logsFor([2]string{"acme", "x"})))
	sent := routerOf(t, cfg).tel.of("acme", "remote").sent[0].Load
	eventually(t, "the batch counted as sent", func() bool { return sent() == 1 })
	for _, name := range []string{"otelcol_tenantrouter_records_sent", "otelcol_tenantrouter_queue_size"} {
		_, err := tel.GetMetric(name)
		require.NoError(t, err, "%s while the router runs", name)
	}

	require.NoError(t, l.Shutdown(ctx))
	_, err = tel.GetMetric("otelcol_tenantrouter_queue_size")
	require.NoError(t, err, "the router runs on while its metrics exporter does")
	require.NoError(t, m.Shutdown(ctx))
	for _, name := range []string{"otelcol_tenantrouter_records_sent", "otelcol_tenantrouter_queue_size"} {
		_, err := tel.GetMetric(name)
		assert.Error(t, err, "%s still observed after the router stopped", name)
	}
}
