package tenantrouterexporter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/exporter/otlphttpexporter"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// BenchmarkOTLPHTTPExport is the router's overhead per record beside the
// stock otlphttp exporter (v0.165.0): the same batch (one tenant's 100 log
// records) to the same httptest server, OTLP/HTTP protobuf, no
// compression. The stock exporter runs without queue or retry, so its
// ConsumeLogs returns once the server answered; the router returns once
// the batch is queued, so each op waits until the server has read the
// request: both measure consume to arrival. Compare with
// benchstat -col /exporter; ns/record is the per-record figure.
func BenchmarkOTLPHTTPExport(b *testing.B) {
	const records = 100
	lines := make([]string, records)
	for i := range lines {
		lines[i] = fmt.Sprintf("GET /api/orders/%d 200 12ms", i)
	}
	ld := batchOf("acme", "bench", lines)
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		arrived <- struct{}{}
	}))
	defer srv.Close()

	b.Run("exporter=otlphttp", func(b *testing.B) {
		f := otlphttpexporter.NewFactory()
		cfg := f.CreateDefaultConfig().(*otlphttpexporter.Config)
		cfg.ClientConfig.Endpoint = srv.URL
		cfg.ClientConfig.Compression = ""
		cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
		cfg.RetryConfig.Enabled = false
		exp, err := f.CreateLogs(b.Context(), exportertest.NewNopSettings(f.Type()), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := exp.Start(b.Context(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		defer func() { _ = exp.Shutdown(b.Context()) }()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := exp.ConsumeLogs(b.Context(), ld); err != nil {
				b.Fatal(err)
			}
			<-arrived
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
	})

	b.Run("exporter=tenantrouter", func(b *testing.B) {
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{
			"store": {Type: TypeLocalstore, Directory: b.TempDir()},
			"ok":    {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL}, Retry: fastRetry()},
		}
		b.Setenv(localstore.MasterKeyEnv, strings.Repeat("be", 32))
		e := startRouter(b, cfg, "tenants:\n  acme: {backends: {logs: [ok]}}\n")
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if err := e.logs.ConsumeLogs(b.Context(), ld); err != nil {
				b.Fatal(err)
			}
			<-arrived
		}
		b.StopTimer()
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*records), "ns/record")
		if got := e.stats("acme", "ok").sent[0].Load(); got < int64(b.N*records)-records {
			b.Fatalf("sent %d records, want %d", got, b.N*records)
		}
	})
}

// BenchmarkSizeAndMarshal is the router's encoding of one tenant's batch
// for an OTLP backend (4,096 log records with a few attributes each, as a
// batch processor hands it on): sized at route for the queues' byte bounds
// and marshaled at send ("sizing=twice", pdata sizes again before it
// marshals), against marshaled once at route and its length taken as the
// size ("sizing=once", what route does for an OTLP backend).
func BenchmarkSizeAndMarshal(b *testing.B) {
	lines := make([]string, 4096)
	for i := range lines {
		lines[i] = fmt.Sprintf("payment retry for a customer of t%05d.example, order %d, <redacted:email>", i%100, i)
	}
	ld := batchOf("acme", "bench", lines)
	// The redactor's audit: each record's classes, the counts and the
	// policy version on the resource.
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := range lrs.Len() {
		a := lrs.At(i).Attributes()
		a.PutStr("customer.email", "<redacted:email>")
		a.PutEmptySlice("tenant.redaction.classes").AppendEmpty().SetStr("email")
	}
	res := ld.ResourceLogs().At(0).Resource().Attributes()
	res.PutInt("tenant.redaction.count", int64(2*lrs.Len()))
	res.PutInt("tenant.redaction.records", int64(lrs.Len()))
	res.PutEmptySlice("tenant.redaction.classes").AppendEmpty().SetStr("email")
	res.PutStr("tenant.redaction.policy_version", "0123456789abcdef")
	b.Run("sizing=twice", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bt := batch{signal: "logs", logs: ld}
			bt.bytes = bt.protoSize()
			if _, err := bt.otlpProto(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sizing=once", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bt := batch{signal: "logs", logs: ld}
			bt.sizeForQueues(true, false)
			if _, err := bt.otlpProto(); err != nil {
				b.Fatal(err)
			}
		}
	})
	// What route does for a batch only OTLP/HTTP backends take: marshaled
	// once into reused memory, given back when sent.
	b.Run("sizing=once,pooled", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bt := batch{signal: "logs", logs: ld}
			bt.sizeForQueues(true, true)
			if _, err := bt.otlpProto(); err != nil {
				b.Fatal(err)
			}
			bt.buf.Drop()
		}
	})
}
