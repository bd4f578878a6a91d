package tenantgatewayreceiver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// h28gStreams is how many Export streams the measuring test opens on one
// connection, each with a message of nearly max_recv_msg_size_mib.
const h28gStreams = 128

// h28gBigExport is an OTLP logs request of one record whose body makes it
// just under grpc-go's default max_recv_msg_size_mib of 4 MiB.
func h28gBigExport(t *testing.T) []byte {
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(strings.Repeat("x", 4<<20-4<<10))
	body := must(plogotlp.NewExportRequestFromLogs(ld).MarshalProto())
	require.Less(t, len(body), 4<<20)
	return body
}

func h28gHeapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// h28gPin opens n Export streams on conn to g, each with md's
// metadata, sends each a message of body and never half-closes them. It
// returns once the gateway holds or has ended every stream: the heap the
// process gained then (HeapInuse after a collection, before and after),
// how many streams the gateway ended, and their codes.
func h28gPin(t *testing.T, g *gateway, conn *grpc.ClientConn, n int, body []byte, md ...string) (grown int64, ended int, codesSeen map[codes.Code]int) {
	t.Helper()
	before := h28gHeapInuse()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		seen = map[codes.Code]int{}
	)
	for range n {
		s, err := conn.NewStream(metadata.AppendToOutgoingContext(ctx, md...),
			&grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
		require.NoError(t, err)
		_ = s.SendMsg(body) // io.EOF once the gateway ended the stream; never CloseSend
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp []byte
			err := s.RecvMsg(&resp)
			mu.Lock()
			seen[status.Code(err)]++
			mu.Unlock()
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for code, k := range seen {
			if code != codes.Canceled {
				c += k
			}
		}
		return c
	}
	// Every stream is either held (its message read and filed by the
	// codec, the call waiting for the client to close its side) or ended.
	require.Eventually(t, func() bool { return g.grpcInFlight.held()+count() >= n },
		2*time.Minute, 10*time.Millisecond, "held %d, ended %d of %d streams", g.grpcInFlight.held(), count(), n)
	after := h28gHeapInuse()
	ended = count()
	mu.Lock()
	codesSeen = map[codes.Code]int{}
	for c, k := range seen {
		codesSeen[c] = k
	}
	mu.Unlock()
	cancel()
	wg.Wait()
	require.Eventually(t, func() bool { return g.grpcInFlight.held() == 0 },
		time.Minute, 10*time.Millisecond, "the held messages are given back once their streams are cancelled")
	return int64(after) - int64(before), ended, codesSeen
}

// TestH28gGRPCUnauthenticatedStreamsPinNoHeap: grpc-go reads a unary
// Export's message (up to max_recv_msg_size_mib) and holds it while it
// waits for the client to half-close, before any interceptor, so before
// the authenticator; max_in_flight_bytes does not count it, and streams
// per connection were unlimited. A client with no key opened 128 streams
// on one connection, each with a message just under 4 MiB, never closing
// them: the test process's heap grew by about 128 x 8 MiB (measured
// 1,029 MiB, the client's copies included; see the README). The gateway now authenticates a stream when
// it opens (grpc.InTapHandle), before any of its message is read, and
// refuses it Unauthenticated; the heap does not grow with the streams.
func TestH28gGRPCUnauthenticatedStreamsPinNoHeap(t *testing.T) {
	body := h28gBigExport(t)
	g, client := startGRPCGateway(t, consumertest.NewNop(), 0)
	for _, md := range [][]string{nil, {"x-api-key", "not-a-key-of-anyone-000"}} {
		grown, ended, seen := h28gPin(t, g, h27xRawConn(t, g), h28gStreams, body, md...)
		t.Logf("metadata %q: %d streams of %d bytes, no half-close: heap in use grew %.1f MiB, %d ended by the gateway %v",
			md, h28gStreams, len(body), float64(grown)/(1<<20), ended, seen)
		// Before: grown was about twice h28gStreams messages (1,029 MiB); a bound
		// of 8 messages leaves room for the runtime's own noise.
		assert.Less(t, grown, int64(8*len(body)), "the heap does not grow with unauthenticated streams")
		assert.Equal(t, h28gStreams, seen[codes.Unauthenticated], "every stream is refused Unauthenticated: %v", seen)
	}
	// The gateway still serves a tenant on the same server.
	require.NoError(t, grpcExport(client, keyAcme, plogotlp.NewExportRequestFromLogs(testLogs(3, 1))))
}

// TestH28gGRPCMTLSTenantPassesTheTap: without an authenticator the gateway
// identifies an OTLP/gRPC caller by its client certificate; the tap reads
// it from the stream's connection (peer), so a registered certificate's
// tenant still exports, and a certificate no tenant lists is refused
// Unauthenticated when its streams open, before their messages are read.
func TestH28gGRPCMTLSTenantPassesTheTap(t *testing.T) {
	dir := t.TempDir()
	ca := newCert(t, "test-ca", nil, true)
	server := newCert(t, "gateway", ca, false)
	acme := newCert(t, "acme-client", ca, false)
	stranger := newCert(t, "stranger", ca, false)
	caFile, _ := ca.write(t, dir, "ca")
	serverCert, serverKey := server.write(t, dir, "server")
	sum := sha256.Sum256(acme.der)
	pol := fmt.Sprintf("tenants:\n  acme:\n    client_certs: [\"sha256:%s\"]\n", hex.EncodeToString(sum[:]))

	tg := startGateway(t, pol, func(c *Config) {
		c.Auth = configoptional.None[confighttp.AuthConfig]()
		gc := configgrpc.NewDefaultServerConfig()
		gc.NetAddr.Endpoint = "127.0.0.1:0"
		tlsCfg := configtls.NewDefaultServerConfig()
		tlsCfg.CertFile, tlsCfg.KeyFile, tlsCfg.ClientCAFile = serverCert, serverKey, caFile
		gc.TLS = configoptional.Some(tlsCfg)
		c.GRPC = configoptional.Some(gc)
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	dial := func(c *testCert) *grpc.ClientConn {
		conn, err := grpc.NewClient(tg.g.grpcAddr.String(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{c.tls()}, MinVersion: tls.VersionTLS12})))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	export := func(conn *grpc.ClientConn) error {
		return grpcExport(plogotlp.NewGRPCClient(conn), "", plogotlp.NewExportRequestFromLogs(testLogs(2, 1)))
	}

	require.NoError(t, export(dial(acme)))
	got := tg.sink.all()
	require.Len(t, got, 1)
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceClientCert,
		Credential: identity.CertID(hex.EncodeToString(sum[:])), Receiver: "tenantgateway/edge"}, got[0].auth)

	strangerConn := dial(stranger)
	assert.Equal(t, codes.Unauthenticated, status.Code(export(strangerConn)))
	const n = 16
	body := h28gBigExport(t)
	grown, _, seen := h28gPin(t, tg.g, strangerConn, n, body)
	assert.Equal(t, n, seen[codes.Unauthenticated], "%v", seen)
	assert.Less(t, grown, int64(8*len(body)))
	assert.EqualValues(t, n+1, tg.g.counters.series(seriesKey{unauthenticatedTenant, protoOTLPGRPC, signalLogs}).refused.Get("unauthenticated").Load(),
		"each refused stream is counted once")
	assert.Len(t, tg.sink.all(), 1)
}

// h28gCountingAuth is an authenticator that counts its calls and accepts
// the key "good".
type h28gCountingAuth struct {
	component.StartFunc
	component.ShutdownFunc
	calls atomic.Int64
}

func (a *h28gCountingAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	a.calls.Add(1)
	if v := sources["x-api-key"]; len(v) == 1 && v[0] == "good" {
		return identity.WithAuth(ctx, identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey, Credential: "good"}), nil
	}
	return ctx, errors.New("no good key")
}

// TestH28gGRPCTapAuthenticatesAStream: the tap authenticates an Export
// stream when it opens; the identity it gave reaches the pipeline; a
// refusal is Unauthenticated and stops the stream there. An authenticator
// that is not a tenantpolicy extension has no policy to say whether its
// decision still holds when the message comes (h30), so configgrpc's
// interceptor asks it again: twice per accepted call, once per refused
// one. (The tenantpolicy extension, which counts its calls, is asked once
// per call: TestH28yGRPCKeyRevokedAfterTheTapIsRefused.)
func TestH28gGRPCTapAuthenticatesAStream(t *testing.T) {
	auth := &h28gCountingAuth{}
	authID := component.MustNewIDWithName("counting", "h28g")
	host, _ := startPolicyHost(t, policyWith(t, "", ""))
	host.exts[authID] = auth
	r, s := h28gStartGRPCAuth(t, host, authID)
	conn := h27xRawConn(t, r)
	client := plogotlp.NewGRPCClient(conn)

	req := plogotlp.NewExportRequestFromLogs(testLogs(2, 1))
	require.NoError(t, grpcExport(client, "good", req))
	assert.EqualValues(t, 2, auth.calls.Load(), "the tap and the interceptor")
	got := s.all()
	require.Len(t, got, 1)
	assert.Equal(t, "acme", got[0].tenant)

	assert.Equal(t, codes.Unauthenticated, status.Code(grpcExport(client, "bad", req)))
	assert.EqualValues(t, 3, auth.calls.Load(), "refused at the tap")
	// A method the gateway does not serve is not the tap's: grpc-go
	// answers it Unimplemented, as before.
	err := conn.Invoke(context.Background(), "/grpc.health.v1.Health/Check", []byte{}, new([]byte), grpc.ForceCodecV2(h27xRaw{}))
	assert.Equal(t, codes.Unimplemented, status.Code(err), "%v", err)
	assert.EqualValues(t, 3, auth.calls.Load())
}

// TestH28gGRPCMaxConcurrentStreamsDefault: the gateway bounds the streams
// of an OTLP/gRPC connection when the grpc: block sets no
// max_concurrent_streams (configgrpc leaves grpc-go's: unlimited); an
// operator's setting wins.
func TestH28gGRPCMaxConcurrentStreamsDefault(t *testing.T) {
	g := &gateway{}
	gc := configgrpc.NewDefaultServerConfig()
	got, _, _, err := g.grpcServerSetup(context.Background(), gc, nil)
	require.NoError(t, err)
	assert.EqualValues(t, defaultGRPCMaxConcurrentStreams, got.MaxConcurrentStreams)
	gc.MaxConcurrentStreams = 1000
	got, _, _, err = g.grpcServerSetup(context.Background(), gc, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 1000, got.MaxConcurrentStreams)
}

// BenchmarkH28gTap is what the tap adds to an Export stream's opening on
// the connection's reading goroutine: "tap" is the whole tap with a valid
// key under the tenantpolicy extension, "authenticate" the extension's
// Authenticate alone, which configgrpc's interceptor ran for the call
// before (and now takes from the tap).
func BenchmarkH28gTap(b *testing.B) {
	host, extID := startPolicyHost(b, policyWith(b, "", ""))
	g := &gateway{}
	gc := configgrpc.NewDefaultServerConfig()
	gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: extID})
	_, tp, _, err := g.grpcServerSetup(context.Background(), gc, host.GetExtensions())
	require.NoError(b, err)
	md := metadata.MD{"x-api-key": {keyAcme}, "content-type": {"application/grpc"}, ":authority": {"gateway"}}
	info := &tap.Info{FullMethodName: h27xLogsExport, Header: md}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 4317}})
	b.Run("tap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tp.handle(ctx, info); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("authenticate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tp.auth.Authenticate(ctx, md); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// h28gStartGRPCAuth starts a logs gateway on host whose grpc: block
// names authID as its authenticator (none for the zero ID: the gateway
// then identifies a caller by its client certificate), and returns it
// with its sink.
func h28gStartGRPCAuth(t *testing.T, host component.Host, authID component.ID) (*gateway, *sink) {
	t.Helper()
	s := &sink{}
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	gc := configgrpc.NewDefaultServerConfig()
	gc.NetAddr.Endpoint = "127.0.0.1:0"
	if authID != (component.ID{}) {
		gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: authID})
	}
	cfg.GRPC = configoptional.Some(gc)
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(typ), cfg,
		must(consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error { return s.add(ctx, received{logs: ld}) })))
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return unwrap(r), s
}
