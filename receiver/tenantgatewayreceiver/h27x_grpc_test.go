package tenantgatewayreceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const h27xLogsExport = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// h27xRaw sends and receives messages as the bytes they are.
type h27xRaw struct{}

func (h27xRaw) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

func (h27xRaw) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (h27xRaw) Name() string { return "proto" }

// h27xRawConn is a client connection that can open the unary Export
// method as a stream, to send what no OTLP client sends.
func h27xRawConn(t *testing.T, g *gateway) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(g.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestH27xGRPCSecondMessageOnUnaryCallLeaksNoRoom: grpc-go, after the one
// message of a unary call, reads again into the same message to check
// that none follows, through the codec, and reports no InPayload for it.
// A client (no key was needed) that sends Export two messages made the
// codec take room for the second, decode it and file it under the message
// no InPayload claims again: the room never came back, so a few such calls
// left the gateway refusing every tenant's export as busy, for good. Since
// 4ad134e a stream without a key is refused when it opens, before its
// first message is read, so the calls carry a tenant's key to reach the
// codec (without one the first send may already see the stream closed).
func TestH27xGRPCSecondMessageOnUnaryCallLeaksNoRoom(t *testing.T) {
	req := plogotlp.NewExportRequestFromLogs(testLogs(50, 4))
	body := must(req.MarshalProto())
	cost := inFlightCost(t, body)
	g, client := startGRPCGateway(t, consumertest.NewNop(), 4*cost)
	conn := h27xRawConn(t, g)

	for range 8 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", keyAcme)
		s, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
		require.NoError(t, err)
		require.NoError(t, s.SendMsg(body))
		_ = s.SendMsg(body)
		_ = s.CloseSend()
		var resp []byte
		err = s.RecvMsg(&resp)
		cancel()
		require.Error(t, err, "two messages on a unary call are refused")
		assert.Zero(t, g.grpcInFlight.pending(), "no room is filed that no call claims")
	}
	require.Eventually(t, func() bool { return g.inFlight.used.Load() == 0 },
		10*time.Second, 10*time.Millisecond, "every call gave its room back: %d bytes held", g.inFlight.used.Load())
	require.NoError(t, grpcExport(client, keyAcme, req), "an honest export after them is not refused as busy")
	require.Eventually(t, func() bool { return g.grpcInFlight.held() == 0 },
		10*time.Second, 10*time.Millisecond, "every message's bytes were given back at its call's end")
}

// TestH27xGRPCUnauthenticatedCallHoldsNoRoom: grpc-go reads a unary
// call's message and then waits for the client to close its side before
// any interceptor or handler runs; an unauthenticated client that sends
// its message and never closes must not hold max_in_flight_bytes (and so
// shut every tenant out) for as long as it keeps the stream open.
func TestH27xGRPCUnauthenticatedCallHoldsNoRoom(t *testing.T) {
	req := plogotlp.NewExportRequestFromLogs(testLogs(50, 4))
	body := must(req.MarshalProto())
	cost := inFlightCost(t, body)
	g, client := startGRPCGateway(t, consumertest.NewNop(), 4*cost)
	conn := h27xRawConn(t, g)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streams []grpc.ClientStream
	for range 4 {
		s, err := conn.NewStream(metadata.AppendToOutgoingContext(ctx, "x-api-key", "not-a-key-of-anyone-000"),
			&grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
		require.NoError(t, err)
		// Refused when it opens since 4ad134e: the send may already see
		// the stream closed.
		_ = s.SendMsg(body)
		streams = append(streams, s) // never CloseSend
	}
	// The server has read and handled every held message once an honest
	// call on the same connection, sent after them, is answered: streams
	// are served in order of their frames.
	err := grpcExport(client, keyAcme, req)
	assert.NotEqual(t, codes.Unavailable, status.Code(err), "an honest export is not refused busy while unauthenticated streams stay open: %v", err)
	assert.NoError(t, err)
	cancel()
	for _, s := range streams {
		var resp []byte
		_ = s.RecvMsg(&resp)
	}
	require.Eventually(t, func() bool { return g.grpcInFlight.held() == 0 },
		10*time.Second, 10*time.Millisecond, "a cancelled call's message is given back at its end")
	assert.Zero(t, g.inFlight.used.Load())
}

// TestH27xGRPCCostBoundIsTheTenants: over HTTP a protobuf body may cost
// at most 16 times the tenant's max_decompressed_bytes to decode; over
// OTLP/gRPC the codec, not knowing the tenant, bounds it by 16 times
// max_recv_msg_size_mib only. A tenant of 1 MiB sent 800 KB of empty
// records (about 34 MiB to decode, 33 times its bound) over gRPC and it
// was decoded and accepted; now that the message is decoded once the
// caller is known, it is refused InvalidArgument first, as over HTTP.
func TestH27xGRPCCostBoundIsTheTenants(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""), func(c *Config) {
		gc := configgrpc.NewDefaultServerConfig()
		gc.NetAddr.Endpoint = "127.0.0.1:0"
		gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("tenantpolicy")})
		c.GRPC = configoptional.Some(gc)
	})
	client := plogotlp.NewGRPCClient(h27xRawConn(t, tg.g))
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", keyAcme)

	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range 100000 {
		recs.AppendEmpty()
	}
	body := must(plogotlp.NewExportRequestFromLogs(ld).MarshalProto())
	cost := protoCost(signalLogs, body, 1<<62)
	t.Logf("%d bytes, cost %d (%.0f times 1 MiB)", len(body), cost, float64(cost)/(1<<20))
	require.Less(t, len(body), 1<<20)
	require.Greater(t, cost, int64(protoCostFactor)<<20)
	_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "max_decompressed_bytes")
	assert.Empty(t, tg.sink.all())

	_, err = client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(100, 4)), grpc.UseCompressor("gzip"))
	require.NoError(t, err, "ordinary records pass, gzip-compressed too")
	require.Len(t, tg.sink.all(), 1)
	assert.Equal(t, 100, tg.sink.all()[0].logs.LogRecordCount())
	require.Eventually(t, func() bool { return tg.g.grpcInFlight.held() == 0 },
		10*time.Second, 10*time.Millisecond, "every message's bytes were given back")
	assert.Zero(t, tg.g.inFlight.used.Load())
}
