//go:build benche2e

package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

// benchTelemetry is every collector's own telemetry in the benchmark: the
// metrics a deployment keeps (level normal) on a Prometheus endpoint the
// harness reads, and log sampling off, so no error or drop is sampled away.
const benchTelemetry = `
    logs: {sampling: {enabled: false}}
    metrics:
      readers:
        - pull: {exporter: {prometheus: {host: 127.0.0.1, port: {{METRICS_PORT}}}}}
`

// benchSinkConfig counts what arrives (otelcol_receiver_accepted_log_records)
// and throws it away.
const benchSinkConfig = `
extensions:
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp: {protocols: {http: {endpoint: "{{HTTP}}"}}}
exporters:
  debug: {verbosity: basic, sampling_initial: 1, sampling_thereafter: 1000000}
service:
  telemetry:` + benchTelemetry + `
  extensions: [health_check]
  pipelines:
    logs: {receivers: [otlp], exporters: [debug]}
`

// benchFloorConfig is the pass-through floor: the same binary with only
// stock components, otlp -> batch -> otlphttp. Without compression, as
// the router's otlphttp backend sends: otlphttp's default gzip costs about
// a fifth of the floor's CPU, which would flatter every ratio.
const benchFloorConfig = `
extensions:
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp: {protocols: {http: {endpoint: "{{HTTP}}"}}}
processors:
  batch: {}
exporters:
  otlp_http: {endpoint: "http://{{SINK}}", compression: none}
service:
  telemetry:` + benchTelemetry + `
  extensions: [health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [batch], exporters: [otlp_http]}
`

// benchTenancyConfig is Tenancy's pipeline around the floor's batch:
// authenticated by API key, identity, redaction, routed to {{BACKEND}}.
const benchTenancyConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}"}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp: {protocols: {http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  batch: {}
  tenantredact: {}
exporters:
  tenantrouter:
    backends:
      out: {{BACKEND}}
    default_backends: {logs: [out], metrics: [out], traces: [out]}
    quarantine_backends: [out]
    governance_backends: [out]
service:
  telemetry:` + benchTelemetry + `
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant, batch, tenantredact], exporters: [tenantrouter]}
`

const (
	benchOTLPBackend  = `{type: otlphttp, endpoint: "http://{{SINK}}"}`
	benchLocalBackend = `{type: localstore, directory: "{{DATA}}", master_key_env: TENANCY_MASTER_KEY}`
)

// benchQuickstartConfig is config/quickstart.yaml itself (memory_limiter,
// tenant, tenantretention, tenantredact, the local store and
// tenantanomaly) on free ports, with the benchmark's telemetry.
func benchQuickstartConfig(t *testing.T) string {
	qs := readRepoFile(t, "config/quickstart.yaml")
	for _, s := range []string{"127.0.0.1:4317", "127.0.0.1:4318", "127.0.0.1:13133", "${env:TENANCY_POLICY}", "${env:TENANCY_DATA_DIR}"} {
		require.Contains(t, qs, s, "config/quickstart.yaml changed shape")
	}
	require.Equal(t, 1, strings.Count(qs, "\nservice:\n"), "config/quickstart.yaml changed shape")
	return strings.NewReplacer("127.0.0.1:4317", "{{GRPC}}", "127.0.0.1:4318", "{{HTTP}}", "127.0.0.1:13133", "{{HEALTH}}",
		"${env:TENANCY_POLICY}", "{{POLICY}}", "${env:TENANCY_DATA_DIR}", "{{DATA}}",
		"\nservice:\n", "\nservice:\n  telemetry:"+benchTelemetry).Replace(qs)
}

// benchVariant is one row of the table.
type benchVariant struct {
	name    string
	tenants int // in the policy; 0 for the floor, which has none
	dirty   bool
	config  string // template; {{SINK}}, {{METRICS_PORT}} and {{BACKEND}} still open
	local   bool   // records land in the local store, not the sink
	qs      bool   // the quickstart's pipeline
	bare    bool   // Tenancy without tenantredact: what identity, auth and routing cost
}

// benchTenant is the i-th of n tenants in the benchmark's policy.
func benchTenant(i int) string { return fmt.Sprintf("t%05d", i) }

func benchKey(id string) string { return id + "-bench-key-000000001" }

// benchPolicy has n tenants, each with a domain and a key prefix as
// identifiers (2n patterns for redaction) and a hashed API key; every
// tenant masks e-mail addresses.
func benchPolicy(n int) string {
	var b strings.Builder
	b.WriteString("defaults:\n  redaction: {classes: {email: mask}}\n  retention: {logs: 30d}\ntenants:\n")
	for i := range n {
		id := benchTenant(i)
		sum := sha256.Sum256([]byte(benchKey(id)))
		fmt.Fprintf(&b, "  %s: {identifiers: [%s.example, \"ak_%s_\"], api_keys: [\"sha256:%s\"]}\n", id, id, id, hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// benchSenders are the tenants traffic comes from: the policy's first and
// last, one telemetrygen process each.
func benchSenders(n int) []string {
	if n == 0 {
		return []string{"", ""}
	}
	return []string{benchTenant(0), benchTenant(n - 1)}
}

// benchRecordArgs is the load: every record names a customer of another
// tenant by domain and carries an e-mail address (dirty) or the same
// shape with nothing to redact (clean: example.org and a reference of the
// same length).
func benchRecordArgs(tenants int, dirty bool) []string {
	if !dirty {
		return []string{"--body", "payment retry for a customer of shop.example.org, order 4411 failed at checkout",
			"--telemetry-attributes", `customer.ref="ref-4411-0000000000000"`}
	}
	foreign := benchTenant(tenants / 2) // a tenant that sends nothing
	return []string{"--body", "payment retry for a customer of " + foreign + ".example, order 4411 failed at checkout",
		"--telemetry-attributes", `customer.email="jane.doe@example.com"`}
}

// benchSend runs telemetrygen, which sends records log records as tenant
// (no API key for the floor) in 100-record requests, unthrottled, until it
// is done.
func benchSend(bin, addr, tenant string, records int, load []string) error {
	args := []string{"logs", "--otlp-http", "--otlp-insecure", "--otlp-endpoint", addr,
		"--rate", "0", "--workers", "1", "--batch-size", "100", "--logs", strconv.Itoa(records)}
	if tenant != "" {
		args = append(args, "--otlp-header", fmt.Sprintf("X-API-Key=%q", benchKey(tenant)))
	}
	out, err := exec.Command(bin, append(args, load...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("telemetrygen: %w: %s", err, out)
	}
	return nil
}

// promSum sums a Prometheus counter's samples whose labels hold every one
// of labels (`name="value"`).
func promSum(t *testing.T, port, metric string, labels ...string) float64 {
	resp, err := http.Get("http://127.0.0.1:" + port + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		if !containsAll(line, labels...) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, line)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}

// waitQuiet waits until the process pid has used at most one clock tick
// of CPU over benchQuiet (longer than the batch processor's 200 ms
// timeout, so a batch waiting on it is not taken for the end), or for 5 s,
// and returns its CPU-seconds then. An idle collector uses well under a
// tick in that time; one carrying records uses most of a core.
func waitQuiet(t *testing.T, pid int) float64 {
	deadline := time.Now().Add(5 * time.Second)
	last := peertest.CPUSeconds(t, pid)
	for {
		time.Sleep(benchQuiet)
		now := peertest.CPUSeconds(t, pid)
		if now-last <= 0.011 || time.Now().After(deadline) {
			return now
		}
		last = now
	}
}

// benchQuiet is how long a quiet collector stays quiet.
const benchQuiet = 250 * time.Millisecond

func freePort(t *testing.T) string {
	_, p, _ := net.SplitHostPort(peertest.FreeAddr(t))
	return p
}

// benchResult is one measurement of one variant.
type benchResult struct {
	records int
	cpu     float64 // collector CPU-seconds while it carried them
	rss     int64   // the collector's peak RSS over its life
	rssUp   int64   // its peak RSS once started, before any record
	wall    time.Duration
	// alloc is the bytes the collector allocated while it carried them
	// (otelcol_process_runtime_total_alloc_bytes read just before the load
	// and just after the CPU: one scrape's own allocations are in it), what
	// paces its garbage collector at 10 tenants (docs/benchmarks.md).
	alloc float64
}

func (r benchResult) allocPerRecord() float64 { return r.alloc / float64(r.records) }

func (r benchResult) rate() float64 { return float64(r.records) / r.cpu }

type benchSink struct {
	c    *collector
	port string
}

func (s benchSink) count(t *testing.T) float64 {
	return promSum(t, s.port, "otelcol_receiver_accepted_log_records")
}

// benchRun starts a fresh collector on v, warms it up (a request per
// sender, through, so the policy, the automaton and the connections are
// ready), then measures the collector's CPU-seconds from the first
// measured request until every record has arrived, and checks that
// exactly the records sent arrived.
func benchRun(t *testing.T, v benchVariant, sink benchSink, policy string, perSender int, prof *benchProfiler) benchResult {
	metricsPort := freePort(t)
	cfg := strings.NewReplacer("{{BACKEND}}", benchOTLPBackend).Replace(v.config)
	if v.local {
		cfg = strings.NewReplacer("{{BACKEND}}", benchLocalBackend).Replace(v.config)
	}
	cfg = strings.NewReplacer("{{SINK}}", sink.c.httpAddr, "{{METRICS_PORT}}", metricsPort).Replace(cfg)
	cfg = prof.config(t, cfg)
	c := startCollectorWith(t, policy, cfg)
	defer c.stop()
	pid := c.cmd.Process.Pid
	rssUp := peertest.PeakRSS(t, pid)

	senders := benchSenders(v.tenants)
	arrived := func() float64 {
		if !v.local {
			return sink.count(t)
		}
		n := 0.0 // the senders' own: the quickstart also stores _governance's
		for _, s := range senders {
			n += promSum(t, metricsPort, "otelcol_tenantrouter_records_sent", `tenant="`+s+`"`, `signal="logs"`)
		}
		return n
	}
	// waitArrived waits until target records have arrived and returns the
	// collector's CPU-seconds at that point. For the local store rows
	// arrived asks the collector under test itself, and each question (a
	// scrape of its /metrics per sender) cost it 3 ms of CPU at 10 tenants
	// and 58 ms at 10,000 (their per-tenant series); asked every 50 ms from the end
	// of the load, as it was until stop 28, that was counted as Tenancy's
	// work, which the floor, asking the sink, never paid. So the CPU is
	// read once the collector has gone quiet, before it is asked: it is
	// asked again (and that question counted) only when it went quiet with
	// records still on their way, a batch waiting out its timeout.
	waitArrived := func(target float64, what string) float64 {
		deadline := time.Now().Add(time.Minute)
		for {
			cpu := waitQuiet(t, pid)
			if arrived() >= target {
				time.Sleep(300 * time.Millisecond) // anything beyond the target would show now
				require.Equal(t, target, arrived(), "%s: records arrived twice", what)
				return cpu
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out after a minute waiting for %s", what)
			}
		}
	}
	load := benchRecordArgs(v.tenants, v.dirty)
	bin := peertest.Binary(t, "TENANCY_TELEMETRYGEN", "telemetrygen")
	send := func(n int) {
		errs := make([]error, len(senders))
		var wg sync.WaitGroup
		for i, s := range senders {
			wg.Go(func() { errs[i] = benchSend(bin, c.httpAddr, s, n, load) })
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
	}

	base := arrived()
	send(100)
	base += float64(100 * len(senders))
	waitArrived(base, v.name+": the warm-up")

	allocated := func() float64 { return promSum(t, metricsPort, "otelcol_process_runtime_total_alloc_bytes") }
	alloc0 := allocated()
	stopProfile := prof.start(t, v.name, c)
	cpu0, start := peertest.CPUSeconds(t, pid), time.Now()
	send(perSender)
	sent := perSender * len(senders)
	cpu1 := waitArrived(base+float64(sent), v.name)
	res := benchResult{records: sent, cpu: cpu1 - cpu0, wall: time.Since(start), rss: peertest.PeakRSS(t, pid), rssUp: rssUp}
	res.alloc = allocated() - alloc0
	stopProfile()
	c.stop()

	if v.local { // the store holds every record: the warm-up's and the measured
		key, err := localstore.ParseKey(routerMasterKey)
		require.NoError(t, err)
		st, err := localstore.Open(c.dataDir, key)
		require.NoError(t, err)
		defer st.Close()
		for _, s := range senders {
			q, err := st.Query(context.Background(), s, "SELECT count(*) FROM logs", localstore.QueryOptions{Actor: "bench-e2e"}, "")
			require.NoError(t, err)
			require.EqualValues(t, 100+perSender, q.Rows[0][0], "%s: %s's records in the store", v.name, s)
		}
	}
	return res
}

// benchVariants is the table: the floor, then Tenancy with the otlphttp
// and the local store backends at each tenant count, clean and dirty,
// and the quickstart pipeline with a dirty load; and, to tell redaction's
// cost from the rest, Tenancy without tenantredact on the clean load.
func benchVariants(t *testing.T, counts []int) []benchVariant {
	vs := []benchVariant{{name: "floor: otlp -> batch -> otlphttp", config: benchFloorConfig}}
	qs := benchQuickstartConfig(t)
	bare := strings.Replace(benchTenancyConfig, "processors: [tenant, batch, tenantredact]", "processors: [tenant, batch]", 1)
	for _, n := range counts {
		vs = append(vs,
			benchVariant{name: fmt.Sprintf("tenancy otlphttp without tenantredact, %d tenants", n), tenants: n, config: bare, bare: true},
			benchVariant{name: fmt.Sprintf("tenancy otlphttp, clean, %d tenants", n), tenants: n, config: benchTenancyConfig},
			benchVariant{name: fmt.Sprintf("tenancy otlphttp, dirty, %d tenants", n), tenants: n, dirty: true, config: benchTenancyConfig},
			benchVariant{name: fmt.Sprintf("tenancy localstore, clean, %d tenants", n), tenants: n, config: benchTenancyConfig, local: true},
			benchVariant{name: fmt.Sprintf("tenancy localstore, dirty, %d tenants", n), tenants: n, dirty: true, config: benchTenancyConfig, local: true},
			benchVariant{name: fmt.Sprintf("quickstart (+retention, anomaly), dirty, %d tenants", n), tenants: n, dirty: true, config: qs, local: true, qs: true},
		)
	}
	return vs
}

func benchEnvInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	require.NoError(t, err, name)
	return n
}

// TestBenchE2E (make bench-e2e; the benche2e build tag keeps it out of
// make test) measures records per collector CPU-second and peak RSS of
// the built collector for the floor and each Tenancy variant, in rounds:
// each round runs every variant, in an order that rotates from round to
// round, with a run of the floor before the first and after each, and a
// variant's ratio in a round is its rate over the mean of the two floor
// runs either side of it (each floor run serves the variants on both of
// its sides). Each ratio printed is the median over the rounds. Load from
// other jobs on the machine moves the floor by ±10 % within minutes; a
// floor measured seconds from the variant shares more of it than one
// measured once at the start of a round, up to eighteen runs earlier.
//
// BENCH_E2E_ROUNDS (5), BENCH_E2E_RECORDS (records per sender per run,
// 50000), BENCH_E2E_TENANTS (10,1000,10000), BENCH_E2E_ONLY (a substring of
// the variants to run besides the floor) and BENCH_E2E_PPROF (a directory:
// CPU and heap profiles of each variant's first run, through the pprof
// extension, which the collector must be built with) tune it.
func TestBenchE2E(t *testing.T) {
	rounds := benchEnvInt(t, "BENCH_E2E_ROUNDS", 5)
	perSender := benchEnvInt(t, "BENCH_E2E_RECORDS", 50_000)
	counts := []int{10, 1_000, 10_000}
	if s := os.Getenv("BENCH_E2E_TENANTS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
			require.NoError(t, err, "BENCH_E2E_TENANTS")
			counts = append(counts, n)
		}
	}
	all := benchVariants(t, counts)
	floor, variants := all[0], all[1:]
	if only := os.Getenv("BENCH_E2E_ONLY"); only != "" {
		variants = slices.DeleteFunc(variants, func(v benchVariant) bool { return !strings.Contains(v.name, only) })
	}
	prof := newBenchProfiler(t)
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // the local store's, for the collectors

	sinkPort := freePort(t)
	sink := benchSink{c: startCollectorWith(t, "", strings.ReplaceAll(benchSinkConfig, "{{METRICS_PORT}}", sinkPort)), port: sinkPort}
	policies := map[int]string{0: ""}
	for _, n := range counts {
		policies[n] = benchPolicy(n)
	}

	results := map[string][]benchResult{}
	ratios := map[string][]float64{}
	floorRun := func(r int) benchResult {
		fl := benchRun(t, floor, sink, "", perSender, prof.of(floor.name))
		results[floor.name] = append(results[floor.name], fl)
		t.Logf("round %d: %-52s %8.0f records/CPU-s  (%d records, %.2f CPU-s, %s, %.0f B allocated a record)", r+1, floor.name, fl.rate(), fl.records, fl.cpu, fl.wall.Round(time.Millisecond), fl.allocPerRecord())
		return fl
	}
	for r := range rounds {
		before := floorRun(r)
		for i := range variants {
			v := variants[(i+r)%len(variants)]
			res := benchRun(t, v, sink, policies[v.tenants], perSender, prof.of(v.name))
			after := floorRun(r)
			ref := (before.rate() + after.rate()) / 2
			results[v.name] = append(results[v.name], res)
			ratios[v.name] = append(ratios[v.name], res.rate()/ref)
			t.Logf("round %d: %-52s %8.0f records/CPU-s  %.2fx floor  peak RSS %d MB (%d MB at start)  %.0f B allocated a record", r+1, v.name, res.rate(), res.rate()/ref, res.rss>>20, res.rssUp>>20, res.allocPerRecord())
			before = after
		}
	}

	median := func(xs []float64) float64 {
		s := slices.Sorted(slices.Values(xs))
		return s[len(s)/2]
	}
	t.Logf("%d rounds of %d records (%d senders x %d), medians; each ratio against the mean of the floor runs just before and just after the variant's run; senders: the policy's first and last tenant, one telemetrygen process each (1 worker, 100-record requests, unthrottled); dirty: every record names another tenant's domain in the body and carries an e-mail attribute",
		rounds, 2*perSender, 2, perSender)
	t.Logf("| pipeline | records per collector CPU-second | ratio to the floor | peak RSS (MB) | of which at start (MB) | bytes allocated per record |")
	t.Logf("|---|---:|---:|---:|---:|---:|")
	ratio := map[string]float64{floor.name: 1}
	peak := map[string]int64{}
	for _, v := range all {
		rs := results[v.name]
		if len(rs) == 0 {
			continue
		}
		rates, allocs := make([]float64, len(rs)), make([]float64, len(rs))
		var up int64
		for i, r := range rs {
			rates[i], allocs[i] = r.rate(), r.allocPerRecord()
			peak[v.name], up = max(peak[v.name], r.rss), max(up, r.rssUp)
		}
		if v.name != floor.name {
			ratio[v.name] = median(ratios[v.name])
		}
		t.Logf("| %s | %.0f | %.2f | %d | %d | %.0f |", v.name, median(rates), ratio[v.name], peak[v.name]>>20, up>>20, median(allocs))
	}

	// Issue 18's targets, row by row: whether each holds in this run.
	for _, target := range []struct {
		what  string
		got   string // how a row's figure prints
		rows  func(benchVariant) bool
		holds func(name string) (float64, bool)
	}{
		{"clean load >= 0.9x the floor at every N", "%.3fx", func(v benchVariant) bool { return v.tenants > 0 && !v.local && !v.dirty && !v.bare },
			func(n string) (float64, bool) { return ratio[n], ratio[n] >= 0.9 }},
		{"dirty load >= 0.8x the floor at every N", "%.3fx", func(v benchVariant) bool { return !v.local && v.dirty },
			func(n string) (float64, bool) { return ratio[n], ratio[n] >= 0.8 }},
		{"local store >= 0.6x the floor", "%.3fx", func(v benchVariant) bool { return v.local && !v.qs },
			func(n string) (float64, bool) { return ratio[n], ratio[n] >= 0.6 }},
		{"peak RSS at 10,000 tenants <= 200 MB", "%.0f MB", func(v benchVariant) bool { return v.tenants == 10_000 },
			func(n string) (float64, bool) { return float64(peak[n] >> 20), peak[n] <= 200<<20 }},
	} {
		verdict := "not measured (no such row ran)"
		for _, v := range all {
			if _, ran := results[v.name]; !ran || !target.rows(v) {
				continue
			}
			if verdict != "NOT met" {
				verdict = "met"
			}
			if got, ok := target.holds(v.name); !ok {
				verdict = "NOT met"
				t.Logf("target %s: not met by %s ("+target.got+")", target.what, v.name, got)
			}
		}
		t.Logf("target %s: %s", target.what, verdict)
	}
}

// benchProfiler takes, in each variant's first run (the floor's first),
// a CPU profile of its measured load and a heap profile at its end,
// through the collector's pprof extension, when BENCH_E2E_PPROF names a
// directory.
type benchProfiler struct {
	dir   string
	taken map[string]bool // the variants profiled
}

func newBenchProfiler(t *testing.T) *benchProfiler {
	dir := os.Getenv("BENCH_E2E_PPROF")
	if dir == "" {
		return nil
	}
	require.NoError(t, os.MkdirAll(dir, 0o750))
	return &benchProfiler{dir: dir, taken: map[string]bool{}}
}

// of is the profiler for a run of the variant name: p on its first run,
// nil (no profile) after.
func (p *benchProfiler) of(name string) *benchProfiler {
	if p == nil || p.taken[name] {
		return nil
	}
	p.taken[name] = true
	return p
}

// config adds the pprof extension on a free port ({{PPROF}} is kept in
// the config for start to find).
func (p *benchProfiler) config(t *testing.T, cfg string) string {
	if p == nil {
		return cfg
	}
	addr := peertest.FreeAddr(t)
	cfg = strings.Replace(cfg, "\nextensions:\n", "\nextensions:\n  pprof: {endpoint: \""+addr+"\"}\n", 1)
	return strings.Replace(cfg, "  extensions: [", "  extensions: [pprof, ", 1)
}

// start begins a CPU profile of the next BENCH_E2E_PPROF_SECONDS (20)
// seconds: a load that ends sooner leaves the collector idle, which adds
// no samples. The returned stop writes the heap profile and waits for the
// CPU profile.
func (p *benchProfiler) start(t *testing.T, name string, c *collector) func() {
	if p == nil {
		return func() {}
	}
	cfg, err := os.ReadFile(c.configPath)
	require.NoError(t, err)
	i := strings.Index(string(cfg), "pprof: {endpoint: \"")
	require.GreaterOrEqual(t, i, 0)
	addr := strings.SplitN(string(cfg[i+len("pprof: {endpoint: \""):]), "\"", 2)[0]
	file := filepath.Join(p.dir, strings.NewReplacer(" ", "_", ",", "", ":", "", ">", "", "(", "", ")", "", "+", "").Replace(name))
	fetch := func(path, to string) error {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		f, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, resp.Body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	cpuErr := make(chan error, 1)
	go func() {
		cpuErr <- fetch(fmt.Sprintf("/debug/pprof/profile?seconds=%d", benchEnvInt(t, "BENCH_E2E_PPROF_SECONDS", 20)), file+".cpu.pb.gz")
	}()
	return func() {
		require.NoError(t, fetch("/debug/pprof/heap", file+".heap.pb.gz"))
		require.NoError(t, <-cpuErr)
	}
}
