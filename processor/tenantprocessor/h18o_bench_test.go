package tenantprocessor

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// BenchmarkH18oRequest is one request of make bench-e2e's load: a
// telemetrygen request of 100 records (a body and one attribute each) in
// one resource, from a client address, its tenant proved by an API key.
// Its work is per request (the lineage) and per record (the tenant.*
// strip).
func BenchmarkH18oRequest(b *testing.B) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, lp.Start(context.Background(), newHost(b, benchPolicy(b, 10))))
	ctx := client.NewContext(context.Background(), client.Info{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40512},
		Auth: identity.AuthData{Tenant: "tenant-00003", Source: identity.SourceAPIKey, Credential: "key-3", Receiver: "otlp"}})
	tmpl := plog.NewLogs()
	rl := tmpl.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "telemetrygen")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for range 100 {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("payment retry for a customer of shop.example.org, order 4411 failed at checkout")
		lr.Attributes().PutStr("customer.ref", "ref-4411-0000000000000")
	}
	feed := newFeed(tmpl)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = lp.ConsumeLogs(ctx, feed.get(b))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/record")
}
