package tenantgatewayreceiver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startGRPCGateway starts a gateway serving OTLP/gRPC under the
// tenantpolicy authenticator, in front of next, with max_in_flight_bytes
// maxInFlight, and a client connection to it.
func startGRPCGateway(t *testing.T, next consumer.Logs, maxInFlight int64) (*gateway, plogotlp.GRPCClient) {
	t.Helper()
	host, extID := startPolicyHost(t, policyWith(t, "", ""))
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.MaxInFlightBytes = maxInFlight
	gc := configgrpc.NewDefaultServerConfig()
	gc.NetAddr.Endpoint = "127.0.0.1:0"
	gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: extID})
	cfg.GRPC = configoptional.Some(gc)
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(typ), cfg, next)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	g := unwrap(r)
	conn, err := grpc.NewClient(g.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return g, plogotlp.NewGRPCClient(conn)
}

func grpcExport(client plogotlp.GRPCClient, key string, req plogotlp.ExportRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
	}
	_, err := client.Export(ctx, req)
	return err
}

// TestGRPCInFlightBytesBoundEveryTenant is TestInFlightBytesBoundEveryTenant
// over OTLP/gRPC, whose messages grpc-go decodes before the gateway sees
// the call: while acme's export is held in the pipeline it counts its
// message and decode cost; globex's export that would go over the bound is
// refused Unavailable with RetryInfo (retried by OTLP clients) and is not
// decoded, one that fits passes, and the room is given back when each call
// ends; an export over the bound alone is InvalidArgument.
func TestGRPCInFlightBytesBoundEveryTenant(t *testing.T) {
	bigLogs, smallLogs := testLogs(2000, 4), testLogs(10, 4)
	big := plogotlp.NewExportRequestFromLogs(bigLogs)
	small := plogotlp.NewExportRequestFromLogs(smallLogs)
	bigCost, smallCost := inFlightCost(t, must(big.MarshalProto())), inFlightCost(t, must(small.MarshalProto()))

	sink := new(consumertest.LogsSink)
	held := blockingLogs{next: sink, held: &atomic.Bool{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	g, client := startGRPCGateway(t, held, bigCost+bigCost/2)
	var releaseOnce sync.Once
	releaseHeld := func() { releaseOnce.Do(func() { close(held.release) }) }
	t.Cleanup(releaseHeld) // before Shutdown, which waits for the held export
	require.Greater(t, g.inFlight.max, bigCost+smallCost)

	first := make(chan error, 1)
	go func() { first <- grpcExport(client, keyAcme, big) }()
	<-held.entered
	assert.Equal(t, bigCost, g.inFlight.used.Load(), "the held export counts its message and decode cost")

	err := grpcExport(client, keyGlobex, big)
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "max_in_flight_bytes")
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	require.NotNil(t, retry, "a busy gateway says when to retry")
	assert.EqualValues(t, 1, g.counters.series(seriesKey{"globex", protoOTLPGRPC, signalLogs}).refused.Get("gateway_busy").Load())
	require.NoError(t, grpcExport(client, keyGlobex, small))

	releaseHeld()
	require.NoError(t, <-first)
	require.NoError(t, grpcExport(client, keyGlobex, big))
	assert.Zero(t, g.inFlight.used.Load(), "every call gave its room back")
	assert.Zero(t, g.grpcInFlight.pending(), "every message's room was claimed by its call")
	assert.Equal(t, 2*2000+10, sink.LogRecordCount())

	_, client2 := startGRPCGateway(t, consumertest.NewNop(), bigCost-1)
	err = grpcExport(client2, keyAcme, big)
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "max_in_flight_bytes")
}

// TestGRPCInFlightGivenBackHoweverTheCallEnds: the room a message takes
// before anyone knows its caller is given back when the authenticator
// refuses the call, when the pipeline refuses it, and under many calls at
// once (-race).
func TestGRPCInFlightGivenBackHoweverTheCallEnds(t *testing.T) {
	req := plogotlp.NewExportRequestFromLogs(testLogs(50, 4))
	cost := inFlightCost(t, must(req.MarshalProto()))
	refusing := consumertest.NewErr(assert.AnError)
	g, client := startGRPCGateway(t, refusing, 64*cost)

	assert.Equal(t, codes.Unauthenticated, status.Code(grpcExport(client, "", req)))
	assert.Equal(t, codes.Unauthenticated, status.Code(grpcExport(client, "not-a-key-of-anyone-000", req)))
	assert.Error(t, grpcExport(client, keyAcme, req))
	assert.Zero(t, g.inFlight.used.Load())
	assert.Zero(t, g.grpcInFlight.pending())

	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			key := []string{keyAcme, keyGlobex, "", "not-a-key-of-anyone-000"}[i%4]
			_ = grpcExport(client, key, req)
		})
	}
	wg.Wait()
	assert.Zero(t, g.inFlight.used.Load(), "every call gave its room back")
	assert.Zero(t, g.grpcInFlight.pending())
}
