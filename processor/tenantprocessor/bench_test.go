package tenantprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// Batch shape of the benchmarks: resources per batch, records per resource.
// Many small resources is the costly shape for this processor, whose work
// is per resource; an SDK's export (few resources, many records) is cheaper.
const (
	benchResources = 100
	benchRecords   = 10
)

func benchPolicy(b *testing.B, n int) *policy.Policy {
	var sb strings.Builder
	sb.WriteString("tenants:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  tenant-%05d: {identifiers: [\"ident-%05d\"]}\n", i, i)
	}
	p, err := policy.Parse("bench.yaml", []byte(sb.String()))
	require.NoError(b, err)
	return p
}

// benchLogs is a batch whose resources claim tenants spread over the policy,
// so lookups touch the whole map rather than one hot entry.
func benchLogs(nTenants int) plog.Logs {
	ld := plog.NewLogs()
	for i := 0; i < benchResources; i++ {
		rl := ld.ResourceLogs().AppendEmpty()
		a := rl.Resource().Attributes()
		// A typical Kubernetes resource: a dozen attributes.
		a.PutStr("service.name", "checkout")
		a.PutStr("service.version", "1.4.2")
		a.PutStr("service.instance.id", fmt.Sprintf("checkout-%d", i))
		a.PutStr("host.name", "node-1")
		a.PutStr("k8s.namespace.name", "shop")
		a.PutStr("k8s.pod.name", fmt.Sprintf("checkout-7d9f-%d", i))
		a.PutStr("k8s.node.name", "node-1")
		a.PutStr("k8s.deployment.name", "checkout")
		a.PutStr("cloud.region", "eu-west-1")
		a.PutStr("telemetry.sdk.name", "opentelemetry")
		a.PutStr("telemetry.sdk.language", "go")
		a.PutStr("tenant.id", fmt.Sprintf("tenant-%05d", (i*7919)%nTenants))
		sl := rl.ScopeLogs().AppendEmpty()
		for j := 0; j < benchRecords; j++ {
			sl.LogRecords().AppendEmpty().Body().SetStr("order placed")
		}
	}
	return ld
}

func BenchmarkTenantProcessor(b *testing.B) {
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("pass=tenant%d", n), func(b *testing.B) {
			cfg := NewFactory().CreateDefaultConfig().(*Config)
			cfg.FingerprintSecret = testSecret
			cfg.AllowUnverifiedClaims = true
			lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(b, err)
			require.NoError(b, lp.Start(context.Background(), newHost(b, benchPolicy(b, n))))
			feed := newFeed(benchLogs(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = lp.ConsumeLogs(context.Background(), feed.get(b))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchResources*benchRecords), "ns/record")
		})
	}
	// The floor: the same batches through the same processorhelper with a
	// function that only reads every resource attribute.
	b.Run("pass=bare", func(b *testing.B) {
		var sink int
		bare := func(_ context.Context, ld plog.Logs) (plog.Logs, error) {
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				ld.ResourceLogs().At(i).Resource().Attributes().Range(func(k string, v pcommon.Value) bool {
					sink += len(k) + len(v.Str())
					return true
				})
			}
			return ld, nil
		}
		lp, err := bareProcessor(bare)
		require.NoError(b, err)
		feed := newFeed(benchLogs(10))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_ = lp.ConsumeLogs(context.Background(), feed.get(b))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchResources*benchRecords), "ns/record")
	})
}

// BenchmarkTenantProcessorVerified is the common production case: every
// resource of a request belongs to the key's tenant.
func BenchmarkTenantProcessorVerified(b *testing.B) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, lp.Start(context.Background(), newHost(b, benchPolicy(b, 10_000))))
	ctx := client.NewContext(context.Background(), client.Info{Auth: identity.AuthData{Tenant: "tenant-00042", Source: identity.SourceAPIKey}})
	tmpl := benchLogs(1)
	for j := 0; j < benchResources; j++ {
		tmpl.ResourceLogs().At(j).Resource().Attributes().Remove("tenant.id")
	}
	feed := newFeed(tmpl)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = lp.ConsumeLogs(ctx, feed.get(b))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchResources*benchRecords), "ns/record")
}

// batchFeed hands out fresh batches decoded from the template's protobuf
// encoding, as a receiver produces them, refilled with the timer stopped, so
// every measured pass sees unprocessed data (the processor rewrites
// attributes in place) without allocating b.N batches up front.
type batchFeed struct {
	wire []byte
	pool []plog.Logs
	next int
}

func newFeed(tmpl plog.Logs) *batchFeed {
	wire, err := (&plog.ProtoMarshaler{}).MarshalLogs(tmpl)
	if err != nil {
		panic(err)
	}
	f := &batchFeed{wire: wire, pool: make([]plog.Logs, 256)}
	f.refill()
	return f
}

func (f *batchFeed) refill() {
	for i := range f.pool {
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(f.wire)
		if err != nil {
			panic(err)
		}
		f.pool[i] = ld
	}
	f.next = 0
}

func (f *batchFeed) get(b *testing.B) plog.Logs {
	if f.next == len(f.pool) {
		b.StopTimer()
		f.refill()
		b.StartTimer()
	}
	ld := f.pool[f.next]
	f.next++
	return ld
}

func bareProcessor(fn func(context.Context, plog.Logs) (plog.Logs, error)) (processor.Logs, error) {
	return processorhelperNewLogs(fn)
}
