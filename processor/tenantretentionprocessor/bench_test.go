package tenantretentionprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor/internal/metadata"
)

const (
	benchResources = 100
	benchRecords   = 10 // per resource
)

// benchBatch is 100 resources of 10 fresh log records, the resources'
// tenants spread over n declared tenants. Nothing in it expires, so
// processing it again changes nothing and one batch serves every
// iteration.
func benchBatch(n int) plog.Logs {
	ld := plog.NewLogs()
	fresh := pcommon.NewTimestampFromTime(time.Now().Add(-time.Hour))
	for i := range benchResources {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, fmt.Sprintf("cust%05d", i*n/benchResources))
		rl.Resource().Attributes().PutStr("service.name", "checkout")
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for range benchRecords {
			lr := lrs.AppendEmpty()
			lr.SetTimestamp(fresh)
			lr.Body().SetStr("GET /api/v2/orders completed in 34ms status=200")
			lr.Attributes().PutStr("http.route", "/api/v2/orders")
		}
	}
	return ld
}

func benchPolicy(tb testing.TB, n int) *policy.Policy {
	var y strings.Builder
	y.WriteString("tenants:\n")
	for i := range n {
		fmt.Fprintf(&y, "  cust%05d: {identifiers: [cust%05d], retention: {logs: 7d}, residency: eu-west}\n", i, i)
	}
	p, err := policy.Parse("bench.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

// BenchmarkRetention is the processor at 10 and 10,000 tenants beside a
// bare pass that reads what it must (each resource's tenant.id, each
// record's timestamp). Compare with benchstat -col /impl.
func BenchmarkRetention(b *testing.B) {
	perRecord := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchResources*benchRecords), "ns/record")
	}
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("n=%d/impl=ours", n), func(b *testing.B) {
			cfg := config("eu-west", ActionDrop, ActionDrop)
			lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
			require.NoError(b, err)
			require.NoError(b, lp.Start(context.Background(), policytest.NewHost(policy.Static{P: benchPolicy(b, n)}, nil)))
			ld := benchBatch(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := lp.ConsumeLogs(context.Background(), ld); err != nil {
					b.Fatal(err)
				}
			}
			perRecord(b)
			if ld.LogRecordCount() != benchResources*benchRecords {
				b.Fatalf("%d records left: the batch must pass whole", ld.LogRecordCount())
			}
		})
		b.Run(fmt.Sprintf("n=%d/impl=bare", n), func(b *testing.B) {
			ld := benchBatch(n)
			var sink uint64
			b.ReportAllocs()
			for b.Loop() {
				for _, rl := range ld.ResourceLogs().All() {
					if v, ok := rl.Resource().Attributes().Get(identity.AttrTenantID); ok {
						sink += uint64(len(v.Str()))
					}
					for _, sl := range rl.ScopeLogs().All() {
						for _, lr := range sl.LogRecords().All() {
							sink += uint64(lr.Timestamp())
						}
					}
				}
			}
			perRecord(b)
			_ = sink
		})
	}
}
