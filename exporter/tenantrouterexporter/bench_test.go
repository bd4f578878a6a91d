package tenantrouterexporter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// BenchmarkHealthyTenantBesideDeadOne measures globex's delivery latency
// (consume to arrival at its backend, one batch of 100 records at a time)
// alone, and while acme's backend hangs on every request and acme sends a
// batch before each of globex's (its queue fills, then refuses): the
// second must match the first (guarantee 4, docs/design.md). It reports
// p50 and p99; `benchstat -col /neighbour` (make bench-deadneighbour)
// compares the two.
func BenchmarkHealthyTenantBesideDeadOne(b *testing.B) {
	for _, mode := range []string{"alone", "beside_dead"} {
		b.Run("neighbour="+mode, func(b *testing.B) {
			var mu sync.Mutex
			sentAt := map[string]time.Time{}
			var lat []time.Duration
			arrived := make(chan struct{}, 1)
			healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				now := time.Now()
				req := plogotlp.NewExportRequest()
				_ = req.UnmarshalProto(body)
				mk, _ := req.Logs().ResourceLogs().At(0).Resource().Attributes().Get("marker")
				mu.Lock()
				lat = append(lat, now.Sub(sentAt[mk.Str()]))
				mu.Unlock()
				arrived <- struct{}{}
			}))
			defer healthy.Close()
			release := make(chan struct{})
			dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				w.WriteHeader(http.StatusServiceUnavailable)
			}))
			defer dead.Close()
			defer close(release)

			cfg := createDefaultConfig().(*Config)
			cfg.Backends = map[string]*BackendConfig{
				"store": {Type: TypeLocalstore, Directory: b.TempDir()},
				"dead":  {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: dead.URL, Timeout: time.Minute}, Retry: fastRetry()},
				"ok":    {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: healthy.URL}, Retry: fastRetry()},
			}
			cfg.QueueSize = 1000
			b.Setenv(localstore.MasterKeyEnv, strings.Repeat("ee", 32))
			e := startRouter(b, cfg, "tenants:\n  acme: {backends: {logs: [dead]}}\n  globex: {backends: {logs: [ok]}}\n")
			markers := make([]string, 100)
			for i := range markers {
				markers[i] = fmt.Sprintf("line %d", i)
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if mode == "beside_dead" {
					_ = e.logs.ConsumeLogs(b.Context(), logsFor([2]string{"acme", "a"}))
				}
				mk := fmt.Sprint("g", i)
				ld := batchOf("globex", mk, markers)
				mu.Lock()
				sentAt[mk] = time.Now()
				mu.Unlock()
				if err := e.logs.ConsumeLogs(b.Context(), ld); err != nil {
					b.Fatal(err)
				}
				<-arrived
			}
			want := b.N
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(want*len(markers))/b.Elapsed().Seconds(), "records/s")
			if mode == "beside_dead" {
				st := e.stats("acme", "dead")
				b.ReportMetric(float64(st.failed[0][reasonIndex(reasonQueueFull)].Load()), "acme-refused")
			}
		})
	}
}

func batchOf(tenant, marker string, lines []string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", tenant)
	rl.Resource().Attributes().PutStr("marker", marker)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, l := range lines {
		lrs.AppendEmpty().Body().SetStr(l)
	}
	return ld
}
