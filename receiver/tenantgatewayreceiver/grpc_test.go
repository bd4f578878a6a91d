package tenantgatewayreceiver

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenancyhq/tenancy/internal/identity"
)

func TestOTLPGRPC(t *testing.T) {
	tg := startGateway(t, policyWith(t, "records_per_second: 5", ""), func(c *Config) {
		gc := configgrpc.NewDefaultServerConfig()
		gc.NetAddr.Endpoint = "127.0.0.1:0"
		gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("tenantpolicy")})
		c.GRPC = configoptional.Some(gc)
	})
	conn, err := grpc.NewClient(tg.g.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	export := func(key string, n int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if key != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
		}
		_, err := client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(n, 1)))
		return err
	}

	require.NoError(t, export(keyAcme, 4))
	require.NoError(t, export(keyGlobex, 3))
	assert.Equal(t, codes.Unauthenticated, status.Code(export("", 1)))
	assert.Equal(t, codes.Unauthenticated, status.Code(export("not-a-key-of-anyone-000", 1)))

	err = export(keyAcme, 4)
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	var retry *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	require.NotNil(t, retry, "a throttled export says when to retry")
	assert.Positive(t, retry.GetRetryDelay().AsDuration())

	got := tg.sink.all()
	require.Len(t, got, 2)
	assert.Equal(t, "acme", got[0].tenant)
	assert.Equal(t, 4, got[0].logs.LogRecordCount())
	assert.Equal(t, "globex", got[1].tenant)
	assert.Equal(t, identity.AuthData{Tenant: "globex", Source: identity.SourceAPIKey,
		Credential: identity.KeyID(keyGlobex), Receiver: "tenantgateway/edge"}, got[1].auth)
	assert.EqualValues(t, 4, tg.g.counters.series(seriesKey{"acme", protoOTLPGRPC, signalLogs}).records.Load())
}

// TestShutdownPastItsDeadlineStopsGRPC: an OTLP/gRPC export held in the
// pipeline does not hold the receiver's Shutdown past its deadline: the
// graceful stop gives way to a hard one when ctx ends.
func TestShutdownPastItsDeadlineStopsGRPC(t *testing.T) {
	host, extID := startPolicyHost(t, policyWith(t, "", ""))
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	gc := configgrpc.NewDefaultServerConfig()
	gc.NetAddr.Endpoint = "127.0.0.1:0"
	gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: extID})
	cfg.GRPC = configoptional.Some(gc)
	held := blockingLogs{next: consumertest.NewNop(), held: &atomic.Bool{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	defer close(held.release)
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(typ), cfg, held)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))

	conn, err := grpc.NewClient(unwrap(r).grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	exported := make(chan error, 1)
	go func() {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-api-key", keyAcme)
		_, err := plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(1, 1)))
		exported <- err
	}()
	<-held.entered

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- r.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		require.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(5 * time.Second):
		held.release <- struct{}{} // unblock it, so the test ends
		t.Fatal("Shutdown still waits for the held export 5s after its deadline")
	}
	assert.Equal(t, codes.Unavailable, status.Code(<-exported), "the client learns the export did not complete")
}
