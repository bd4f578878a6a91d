package tenantgatewayreceiver

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// TestH28yStockOTLPGRPCUnauthenticatedPin measures, for the record, what
// config/edge.yaml and config/quickstart.yaml still allow (hostile review
// h28y of 4ad134e, left open): their OTLP/gRPC endpoint is the stock otlp
// receiver (grpc: auth tenantpolicy, max_recv_msg_size_mib 1,
// max_concurrent_streams unset), which the gateway's tap does not cover.
// grpc-go reads each unary Export's message and holds it until the client
// half-closes, before configgrpc's auth interceptor: 512 streams with a
// wrong key on one connection, 1 MiB each, never closed, grew the heap in
// use by 1,057 MiB on an idle run, 404 MiB beside a race test (the server
// had not read every stream within the 5 s). A measurement, not a check (it asserts
// nothing and waits a fixed 5 s for the server to read the streams): run
// with H28Y_MEASURE=1.
func TestH28yStockOTLPGRPCUnauthenticatedPin(t *testing.T) {
	if os.Getenv("H28Y_MEASURE") == "" {
		t.Skip("measurement: H28Y_MEASURE=1")
	}
	host, extID := startPolicyHost(t, policyWith(t, "", ""))
	f := otlpreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
	gc := configgrpc.NewDefaultServerConfig()
	addr := peertest.FreeAddr(t)
	gc.NetAddr.Endpoint = addr
	gc.MaxRecvMsgSizeMiB = 1
	gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: extID})
	cfg.Protocols.GRPC = configoptional.Some(gc)
	cfg.Protocols.HTTP = configoptional.None[otlpreceiver.HTTPConfig]()
	r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })

	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat("x", 1<<20-4<<10))
	body := must(plogotlp.NewExportRequestFromLogs(ld).MarshalProto())
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	const n = 512
	before := h28gHeapInuse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range n {
		s, err := conn.NewStream(metadata.AppendToOutgoingContext(ctx, "x-api-key", "not-a-key-of-anyone-000"),
			&grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
		require.NoError(t, err)
		_ = s.SendMsg(body) // never CloseSend
	}
	time.Sleep(5 * time.Second) // measurement only: let the server read them
	after := h28gHeapInuse()
	t.Logf("stock otlp receiver, %d unauthenticated streams of %d bytes on one connection, never closed: heap in use grew %.1f MiB",
		n, len(body), float64(int64(after)-int64(before))/(1<<20))
}
