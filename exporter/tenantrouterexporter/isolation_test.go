package tenantrouterexporter

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

// blackHole accepts TCP connections and never answers: the worst dead
// backend, one that neither refuses nor fails, only hangs.
type blackHole struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

func newBlackHole(t *testing.T, addr string) *blackHole {
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	h := &blackHole{l: l, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }() // read, never write
		}
	}()
	return h
}

// close stops listening and drops every connection it held; it reports
// how many it accepted.
func (h *blackHole) close() int {
	_ = h.l.Close()
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		_ = c.Close()
	}
	return len(h.conns)
}

// arrivals records when each marker reached a backend.
type arrivals struct {
	mu      sync.Mutex
	at      map[string]time.Time
	records int
}

func (a *arrivals) handler(tenant string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		req := plogotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil || r.Header.Get(DefaultTenantHeader) != tenant {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		rls := req.Logs().ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			if mk, ok := rls.At(i).Resource().Attributes().Get("marker"); ok {
				if _, dup := a.at[mk.Str()]; !dup {
					a.at[mk.Str()] = now
					a.records += rls.At(i).ScopeLogs().At(0).LogRecords().Len()
				}
			}
		}
	}
}

func (a *arrivals) count() (batches, records int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at), a.records
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestIsolationUnderBlackHole: acme's backend is black-holed (accepts,
// never answers) while both tenants send a batch every 10 ms. Every globex
// batch of the outage reaches globex's backend while acme's is still a
// black hole (acme's queue holds its batches meanwhile), and once acme's
// backend returns on the same address every acme record arrives, counted.
// How much globex's latency moves during the outage is a measurement, not
// an assertion: BenchmarkHealthyTenantBesideDeadOne (make bench-deadneighbour).
func TestIsolationUnderBlackHole(t *testing.T) {
	const (
		interval     = 10 * time.Millisecond
		phase        = 2 * time.Second
		perBatch     = 10
		acmeInFlight = 300 // acme's queue holds its whole outage
	)
	var globexGot, acmeGot = &arrivals{at: map[string]time.Time{}}, &arrivals{at: map[string]time.Time{}}
	globexSrv := &http.Server{Handler: globexGot.handler("globex"), ReadHeaderTimeout: 5 * time.Second}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = globexSrv.Serve(gl) }()
	t.Cleanup(func() { _ = globexSrv.Close() })

	// acme's backend: healthy, then a black hole on the same address, then
	// healthy again.
	acmeAddr := peertest.FreeAddr(t)
	serveAcme := func() *http.Server {
		var l net.Listener
		var err error
		for range 100 { // the black hole's port may take a moment to free
			if l, err = net.Listen("tcp", acmeAddr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		require.NoError(t, err)
		s := &http.Server{Handler: acmeGot.handler("acme"), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = s.Serve(l) }()
		return s
	}
	acmeSrv := serveAcme()

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
		"a":      {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: "http://" + acmeAddr, Timeout: 250 * time.Millisecond}, Retry: fastRetry(), QueueSize: acmeInFlight * 2},
		"globex": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: "http://" + gl.Addr().String()}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("a1", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [a]}}\n  globex: {backends: {logs: [globex]}}\n")

	lines := make([]string, perBatch)
	for i := range lines {
		lines[i] = fmt.Sprint("line ", i)
	}
	var sentMu sync.Mutex
	sentAt := map[string]time.Time{}
	acmeSent := 0
	// run sends one batch of each tenant every interval for d and returns
	// the globex markers it sent.
	run := func(name string, d time.Duration) []string {
		var markers []string
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
			mk := fmt.Sprintf("%s-%d", name, len(markers))
			require.NoError(t, e.logs.ConsumeLogs(t.Context(), batchOf("acme", "a-"+mk, lines)), "acme's queue never refuses")
			acmeSent++
			ld := batchOf("globex", mk, lines)
			sentMu.Lock()
			sentAt[mk] = time.Now()
			sentMu.Unlock()
			require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
			markers = append(markers, mk)
		}
		return markers
	}
	latencies := func(markers []string) []time.Duration {
		eventually(t, "globex's batches", func() bool {
			globexGot.mu.Lock()
			defer globexGot.mu.Unlock()
			for _, mk := range markers {
				if _, ok := globexGot.at[mk]; !ok {
					return false
				}
			}
			return true
		})
		globexGot.mu.Lock()
		defer globexGot.mu.Unlock()
		out := make([]time.Duration, 0, len(markers))
		for _, mk := range markers {
			out = append(out, globexGot.at[mk].Sub(sentAt[mk]))
		}
		return out
	}

	_ = run("warmup", 300*time.Millisecond)
	base := latencies(run("base", phase))
	eventually(t, "acme's baseline batches", func() bool { n, _ := acmeGot.count(); return n == acmeSent })

	require.NoError(t, acmeSrv.Close())
	hole := newBlackHole(t, acmeAddr)
	// latencies waits for every globex batch of the outage: they all
	// arrive while acme's backend still hangs.
	outage := latencies(run("outage", phase))
	as := e.stats("acme", "a")
	assert.Positive(t, as.size.Load(), "acme's batches wait in its queue during the outage")
	accepted := hole.close()
	assert.Positive(t, accepted, "the router kept trying acme's black hole")

	acmeSrv = serveAcme()
	t.Cleanup(func() { _ = acmeSrv.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := acmeGot.count(); n < acmeSent && time.Now().Before(deadline); n, _ = acmeGot.count() {
		time.Sleep(10 * time.Millisecond)
	}
	batches, records := acmeGot.count()
	assert.Equal(t, acmeSent, batches, "every acme batch arrived after its backend returned")
	assert.Equal(t, acmeSent*perBatch, records, "every acme record arrived")
	for _, r := range reasonNames {
		assert.Zero(t, as.failed[0][reasonIndex(r)].Load(), "acme lost nothing (%s)", r)
	}

	mb, mo := median(base), median(outage)
	t.Logf("globex median latency: %s without acme's outage (%d batches), %s during it (%d batches); "+
		"acme: %d connections black-holed, %d batches (%d records) all delivered after recovery, %d retries",
		mb, len(base), mo, len(outage), accepted, batches, records, as.retries.Load())
}
