package isolation_test

import (
	"context"
	"encoding/hex"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor"
)

const (
	tenantCount = 1000
	workers     = 4
	// maxAttempts: a refused request is sent again, as a client retries;
	// the last refusal is what the caller saw.
	maxAttempts = 6
)

// requestCount is ISOLATION_REQUESTS, else 100,000 (`make test` runs that,
// without the race detector) or, under -race, 5,000.
func requestCount(t *testing.T) int {
	if s := os.Getenv("ISOLATION_REQUESTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("ISOLATION_REQUESTS=%q: want a positive count", s)
		}
		return n
	}
	if raceEnabled {
		return 5_000
	}
	return 100_000
}

// senderCount is ISOLATION_SENDERS, else every tenant, or 100 of them under
// -race: there each tenant database created and read back costs about
// 50 ms (SQLite is Go code here, and the race detector instruments it).
func senderCount(t *testing.T) int {
	if s := os.Getenv("ISOLATION_SENDERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > tenantCount {
			t.Fatalf("ISOLATION_SENDERS=%q: want 1 to %d", s, tenantCount)
		}
		return n
	}
	if raceEnabled {
		return 100
	}
	return tenantCount
}

// seed is ISOLATION_SEED, else random; the log names it so a failing run
// can be replayed (the requests are the same; their interleaving is not).
func seed(t *testing.T) uint64 {
	if s := os.Getenv("ISOLATION_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ISOLATION_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// pipeline is tenant → tenantretention → tenantredact → tenantrouter (local
// store), each signal, built from the real factories, in the quickstart's
// order.
type pipeline struct {
	logs    consumer.Logs
	metrics consumer.Metrics
	traces  consumer.Traces
	started []component.Component // in start order: exporters first
}

func startPipeline(t *testing.T, pol *policy.Policy, dir string) *pipeline {
	t.Helper()
	ctx := context.Background()
	host := policytest.NewHost(policytest.NewSwappable(pol), nil)
	p := &pipeline{}
	must := func(c component.Component, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, host); err != nil {
			t.Fatal(err)
		}
		p.started = append(p.started, c)
	}

	rf := tenantrouterexporter.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*tenantrouterexporter.Config)
	// Anchors every 5 s, so that every run stores some beside the tenants'
	// records, not only runs longer than the default minute.
	rcfg.Backends = map[string]*tenantrouterexporter.BackendConfig{"local": {Type: tenantrouterexporter.TypeLocalstore, Directory: dir, AnchorInterval: 5 * time.Second}}
	rcfg.QueueSize = 1000
	if err := rcfg.Validate(); err != nil {
		t.Fatal(err)
	}
	eset := exportertest.NewNopSettings(rf.Type())
	el, err := rf.CreateLogs(ctx, eset, rcfg)
	must(el, err)
	em, err := rf.CreateMetrics(ctx, eset, rcfg)
	must(em, err)
	et, err := rf.CreateTraces(ctx, eset, rcfg)
	must(et, err)
	logs, metrics, traces := consumer.Logs(el), consumer.Metrics(em), consumer.Traces(et)

	tcfg := tenantprocessor.NewFactory().CreateDefaultConfig().(*tenantprocessor.Config)
	tcfg.FingerprintSecret = "isolation-fingerprint-secret-0001"
	// Built back to front: each processor feeds the one after it.
	for _, f := range []struct {
		f   processor.Factory
		cfg component.Config
	}{
		{tenantredactprocessor.NewFactory(), nil},
		{tenantretentionprocessor.NewFactory(), nil},
		{tenantprocessor.NewFactory(), tcfg},
	} {
		cfg := f.cfg
		if cfg == nil {
			cfg = f.f.CreateDefaultConfig()
		}
		set := processortest.NewNopSettings(f.f.Type())
		pl, err := f.f.CreateLogs(ctx, set, cfg, logs)
		must(pl, err)
		pm, err := f.f.CreateMetrics(ctx, set, cfg, metrics)
		must(pm, err)
		pt, err := f.f.CreateTraces(ctx, set, cfg, traces)
		must(pt, err)
		logs, metrics, traces = pl, pm, pt
	}
	p.logs, p.metrics, p.traces = logs, metrics, traces
	return p
}

// shutdown stops the processors, then the router, which drains its queues
// into the store.
func (p *pipeline) shutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := len(p.started) - 1; i >= 0; i-- {
		if err := p.started[i].Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}

func (p *pipeline) send(ctx context.Context, rq request) error {
	switch rq.signal {
	case "logs":
		return p.logs.ConsumeLogs(ctx, rq.logs)
	case "metrics":
		return p.metrics.ConsumeMetrics(ctx, rq.metrics)
	}
	return p.traces.ConsumeTraces(ctx, rq.traces)
}

// block is a run of requests from one sender: a client's burst.
type block struct {
	sender, size int
}

// planBlocks splits n requests into bursts whose senders cycle through
// senders tenants picked at random, so each of them sends when n allows it
// and few tenant databases are open at once.
func planBlocks(r *rand.Rand, n, tenants, senders int) []block {
	mean := max(1, n/senders)
	perm := r.Perm(tenants)[:senders]
	var out []block
	for left := n; left > 0; {
		size := min(left, 1+r.IntN(2*mean))
		out = append(out, block{sender: perm[len(out)%senders], size: size})
		left -= size
	}
	return out
}

var signalNames = []string{"logs", "metrics", "traces"}

// TestHostileInputIsolation is the isolation promise as a property: every
// tenant of 1,000 sends random hostile OTLP with its own valid key (the
// authenticator's verdict in the context): repeated keys at every level,
// tenant.id claims of every shape, tenant.* keys anywhere, other tenants'
// identifiers in every field, NaN and ±Inf, huge and empty strings,
// absurd timestamps. Then every store is read back: no record is in a
// store other than its sender's or _quarantine (and it is in the one the
// identity rules name), no stored text holds another tenant's identifier,
// no client tenant.* key or value survives, every quarantined record names
// its sender and key, and every record is stored, dropped for its
// retention, or refused with an error its sender saw.
//
// `make test` runs it twice: under -race with 5,000 requests from 100
// tenants, and without with 100,000 from all 1,000 (ISOLATION_REQUESTS and
// ISOLATION_SENDERS set them).
func TestHostileInputIsolation(t *testing.T) {
	n, senders, sd := requestCount(t), senderCount(t), seed(t)
	t.Logf("ISOLATION_SEED=%d ISOLATION_REQUESTS=%d ISOLATION_SENDERS=%d, %d tenants in the policy", sd, n, senders, tenantCount)
	r := rand.New(rand.NewPCG(sd, 0x15014710))
	w := newWorld(t, r, tenantCount)
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(r.Uint32())
	}
	t.Setenv(localstore.MasterKeyEnv, hex.EncodeToString(master))
	dir := t.TempDir()
	p := startPipeline(t, w.pol, dir)

	blocks := planBlocks(r, n, tenantCount, senders)
	results := make([]*gen, len(blocks))
	var next, refusedReqs, retries atomic.Int64
	now := time.Now()
	start := time.Now()
	var wg sync.WaitGroup
	for wk := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(blocks) {
					return
				}
				b := blocks[k]
				tn := w.tenants[b.sender]
				info := client.Info{Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, byte(1+wk)), Port: 40000 + k%20000}}
				ctx := identity.WithAuth(client.NewContext(context.Background(), info),
					identity.AuthData{Tenant: tn.id, Source: identity.SourceAPIKey, Credential: identity.KeyID(tn.key)})
				// Each block draws from its own stream: the same seed makes
				// the same requests whichever worker sends them.
				g := &gen{r: rand.New(rand.NewPCG(sd, uint64(k)+1)), w: w, sender: b.sender, now: now, seq: int64(k) << 24}
				for range b.size {
					g.req = &reqOutcome{}
					rq, err := g.request(signalNames[g.r.IntN(3)])
					if err != nil {
						t.Errorf("building a request: %v", err)
						return
					}
					for attempt := 1; ; attempt++ {
						err = p.send(ctx, rq.clone())
						if err == nil || consumererror.IsPermanent(err) || attempt == maxAttempts {
							break
						}
						retries.Add(1)
						time.Sleep(time.Duration(attempt*attempt) * 10 * time.Millisecond)
					}
					if err != nil {
						g.req.err = err
						refusedReqs.Add(1)
					}
				}
				results[k] = g
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	p.shutdown(t)
	drained := time.Since(start)

	c := &checker{w: w, exp: map[int64]*recordExp{}, found: map[int64]bool{}, rows: map[string]int{}}
	for _, g := range results {
		if g == nil {
			t.Fatal("a block was not sent")
		}
		for _, rec := range g.recs {
			c.exp[rec.seq] = rec.exp
		}
	}
	c.readStores(t, dir, master)
	stored, quarantined, expired, refused := c.lost()
	rows := 0
	for _, n := range c.rows {
		rows += n
	}
	t.Logf("%d requests (%d refused after %d retries) with %d records in %s, drained in %s, checked in %s",
		n, refusedReqs.Load(), retries.Load(), len(c.exp), sent.Round(time.Millisecond), (drained - sent).Round(time.Millisecond),
		(time.Since(start) - drained).Round(time.Millisecond))
	t.Logf("records: %d in their sender's store, %d in _quarantine, %d dropped for their retention, %d refused to the caller; %d rows in %d stores",
		stored, quarantined, expired, refused, rows, len(c.rows))
	c.v.report(t)
	if stored == 0 || quarantined == 0 || expired == 0 {
		t.Errorf("the run did not exercise every outcome: %d stored, %d quarantined, %d expired", stored, quarantined, expired)
	}
}
