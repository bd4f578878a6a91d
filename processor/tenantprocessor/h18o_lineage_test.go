package tenantprocessor

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// TestH18oLineageEncodingIsEncodes: the cached tails write what
// Lineage.Encode writes, for senders whose fields JSON escapes, for ids
// and times of every shape, a second time from the cache, and past the
// cache's bound.
func TestH18oLineageEncodingIsEncodes(t *testing.T) {
	var tails lineageTails
	fields := []string{"", "otlp", "api_key", "10.0.0.7:51234", "t<0>&\"q\"\\", "caf\u00e9\u2028", "\x00\x7f", "k-1"}
	ids := []string{"0190f3a2b4c47d5e8f9a0b1c2d3e4f50", "", "ABCDEF0123", "not-hex", "<id>", "\u00e9"}
	times := []int64{0, 1, -1, 1733000000123456789, -9223372036854775808, 9223372036854775807}
	n := 0
	for _, f := range fields {
		for _, id := range ids {
			for _, at := range times {
				l := identity.Lineage{ID: id, Accepted: at, Receiver: f, Auth: "api_key", Client: fmt.Sprintf("10.0.0.%d:4318", n%3), Tenant: f,
					Credential: f, Collector: "c1", PolicyVersion: f}
				for range 2 {
					require.Equal(t, l.Encode(), tails.encode(l))
				}
				n++
			}
		}
	}
	up := identity.Lineage{ID: "ab", Tenant: "t"}
	l := identity.Lineage{ID: "cd", Accepted: 5, Tenant: "t", Upstream: &up}
	require.Equal(t, l.Encode(), tails.encode(l))
	for i := range 2 * maxLineageTails {
		l := identity.Lineage{ID: "0190f3a2", Accepted: int64(i), Client: fmt.Sprintf("10.0.0.1:%d", i)}
		require.Equal(t, l.Encode(), tails.encode(l))
	}
	require.LessOrEqual(t, len(tails.tails), maxLineageTails)
}

// TestH18oLineageOfARequestIsEncodes: the processor's tenant.lineage is
// Lineage.Encode of what it parses back to, request after request.
func TestH18oLineageOfARequestIsEncodes(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	pol, err := policy.Parse("p.yaml", []byte("tenants:\n  tenant-00003: {identifiers: [ident-3]}\n"))
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, pol)))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
	ctx := client.NewContext(context.Background(), client.Info{Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4318},
		Auth: identity.AuthData{Tenant: "tenant-00003", Source: identity.SourceAPIKey, Credential: "key-1", Receiver: "otlp"}})
	before := time.Now().UnixNano()
	for range 3 {
		ld := plog.NewLogs()
		ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("x")
		require.NoError(t, lp.ConsumeLogs(ctx, ld))
	}
	ids := map[string]bool{}
	for _, ld := range sink.AllLogs() {
		v, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrLineage)
		require.True(t, ok)
		l, ok := identity.ParseLineage(v.Str())
		require.True(t, ok)
		require.Equal(t, l.Encode(), v.Str())
		require.Equal(t, "tenant-00003", l.Tenant)
		require.Equal(t, "10.1.2.3:4318", l.Client)
		require.GreaterOrEqual(t, l.Accepted, before)
		ids[l.ID] = true
	}
	require.Len(t, ids, 3)
}
