package tenantgatewayreceiver

import (
	"context"
	"net/http"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// defaultGRPCMaxConcurrentStreams bounds the streams one OTLP/gRPC
// connection may hold when the grpc: block does not set
// max_concurrent_streams (configgrpc leaves grpc-go's default, unlimited).
// grpc-go reads each stream's message (up to max_recv_msg_size_mib) and
// holds it until the client half-closes, so the streams of a connection
// bound what it can pin. 100 is the least HTTP/2 recommends a peer allow
// (RFC 9113, 6.5.2) and ten times an OTLP exporter's default concurrency
// (sending_queue num_consumers: 10) on its one connection.
const defaultGRPCMaxConcurrentStreams = 100

// grpcExportSignals are the methods the gateway serves over gRPC, by full
// name; grpcTap authenticates their streams and leaves any other alone.
var grpcExportSignals = map[string]string{
	"/opentelemetry.proto.collector.logs.v1.LogsService/Export":       signalLogs,
	"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": signalMetrics,
	"/opentelemetry.proto.collector.trace.v1.TraceService/Export":     signalTraces,
}

// grpcTap authenticates an OTLP Export stream when it opens, from its
// headers and its connection's client certificate, before grpc-go reads
// any of its message: grpc-go reads a unary call's message and holds it
// until the client half-closes, before any interceptor runs, so a client
// with no credential could pin max_recv_msg_size_mib per stream, 128
// streams of 4 MiB on one connection growing the heap by 1 GiB
// (TestH28gGRPCUnauthenticatedStreamsPinNoHeap). A stream refused here
// never reaches the server's handlers; one let through is authenticated
// again as before (by the grpc: block's authenticator, through tapAuth,
// which takes the tap's result; by client certificate in serveGRPC).
//
// grpc-go runs the tap on the connection's reading goroutine, holding the
// transport's locks: it does what the authenticator would do a moment
// later (the tenantpolicy extension: a SHA-256 of the key and a map
// lookup), no more.
type grpcTap struct {
	g *gateway
	// auth is the grpc: block's authenticator, nil without one (the
	// gateway then identifies a caller by its client certificate).
	auth extensionauth.Server
	// authPolicy is the policy auth decides by, when it declares that it
	// decides by nothing else (policy.Authenticator: the tenantpolicy
	// extension); nil for any other authenticator, whose streams are then
	// authenticated again by the interceptor.
	authPolicy      policy.Provider
	includeMetadata bool
}

// grpcTapped keys the context of a stream the tap authenticated; its
// value is a grpcTapMark.
type grpcTapped struct{}

// grpcTapMark is what the tap's context says of a stream it authenticated:
// the authenticator's own policy in force just before it ran (not the
// gateway's: the grpc: block may name another tenantpolicy instance, whose
// reload, a revoked key, the gateway's policy would not show), and the
// identity it gave. The stream's context does not carry that identity
// itself: a call authenticated again starts without it, so an
// authenticator that accepts the second time without naming a tenant
// cannot leave the tap's in place (hostile review h30).
type grpcTapMark struct {
	policy *policy.Policy
	auth   client.AuthData
}

// policyOf is p's policy in force, nil for no provider or before it started.
func policyOf(p policy.Provider) *policy.Policy {
	if p == nil {
		return nil
	}
	return p.Policy()
}

func (tp *grpcTap) handle(ctx context.Context, info *tap.Info) (context.Context, error) {
	signal, ok := grpcExportSignals[info.FullMethodName]
	if !ok {
		return ctx, nil
	}
	if tp.auth != nil {
		// Taken before the authenticator runs: a reload during it makes
		// the interceptor authenticate the call again.
		mark := grpcTapMark{policy: policyOf(tp.authPolicy)}
		actx, err := tp.auth.Authenticate(tapClientContext(ctx, info.Header, tp.includeMetadata), info.Header)
		if err != nil {
			// As configgrpc's interceptor answers it.
			if s, ok := status.FromError(err); ok {
				return ctx, s.Err()
			}
			return ctx, status.Error(codes.Unauthenticated, err.Error())
		}
		mark.auth = client.FromContext(actx).Auth
		return context.WithValue(ctx, grpcTapped{}, mark), nil
	}
	// No authenticator: serveGRPC would identify the caller by its
	// certificate alone (identify) and refuse it as this does.
	p := tp.g.policy.Policy()
	var herr *httpError
	switch {
	case p == nil:
		herr = errNoPolicy()
	default:
		if _, _, ok := tp.g.tenantForCert(p, peerTLS(ctx)); ok {
			return ctx, nil
		}
		herr = &httpError{status: http.StatusUnauthorized, reason: "unauthenticated",
			msg: "no verified tenant: send a registered client certificate"}
	}
	sc := tp.g.counters.series(seriesKey{unauthenticatedTenant, protoOTLPGRPC, signal})
	sc.requests.Add(1)
	sc.refuse(herr.reason)
	return ctx, grpcError(herr)
}

// tapClientContext is what configgrpc gives the authenticator: the
// client.Info with the peer's address (and the metadata when
// include_metadata is set).
func tapClientContext(ctx context.Context, md metadata.MD, includeMetadata bool) context.Context {
	cl := client.FromContext(ctx)
	if p, ok := peer.FromContext(ctx); ok {
		cl.Addr = p.Addr
	}
	if includeMetadata {
		copied := md.Copy()
		if len(md[client.MetadataHostName]) == 0 && len(md[":authority"]) > 0 {
			copied[client.MetadataHostName] = md[":authority"]
		}
		cl.Metadata = client.NewMetadata(copied)
	}
	return client.NewContext(ctx, cl)
}

// tapAuth is the grpc: block's authenticator as configgrpc's interceptor
// sees it: a stream the tap authenticated carries the authenticator's
// result in its context already, so it is not authenticated (and counted
// by the tenantpolicy extension) twice; any other is authenticated as
// before. So is a tapped stream whose authenticator's policy was reloaded
// since the tap (hostile review h28y): the client chooses when it sends
// its message, and a key revoked meanwhile must not export (such a call is
// counted twice, once per policy). An authenticator that does not decide
// by its policy alone (policy.Authenticator) has nothing to compare, so
// its streams are always authenticated again (and a tenantpolicy
// extension it wraps counts such a call twice).
type tapAuth struct {
	component.Component
	next   extensionauth.Server
	policy policy.Provider // the authenticator's, nil if it has none
}

func (a tapAuth) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	if mark, tapped := ctx.Value(grpcTapped{}).(grpcTapMark); tapped && mark.policy != nil && mark.policy == policyOf(a.policy) {
		info := client.FromContext(ctx)
		info.Auth = mark.auth
		return client.NewContext(ctx, info), nil
	}
	return a.next.Authenticate(ctx, sources)
}

// grpcServerSetup is the grpc: block as the gateway serves it: the
// default max_concurrent_streams when it sets none, the tap, and the
// extensions with the authenticator configgrpc's interceptor finds
// wrapped in tapAuth.
func (g *gateway) grpcServerSetup(ctx context.Context, gcfg configgrpc.ServerConfig, exts map[component.ID]component.Component) (configgrpc.ServerConfig, *grpcTap, map[component.ID]component.Component, error) {
	if gcfg.MaxConcurrentStreams == 0 {
		gcfg.MaxConcurrentStreams = defaultGRPCMaxConcurrentStreams
	}
	tp := &grpcTap{g: g, includeMetadata: gcfg.IncludeMetadata}
	if !gcfg.Auth.HasValue() {
		return gcfg, tp, exts, nil
	}
	auth := gcfg.Auth.Get()
	server, err := auth.GetServerAuthenticator(ctx, exts)
	if err != nil {
		return gcfg, nil, nil, err
	}
	tp.auth = server
	if pa, ok := policy.ByPolicyAlone(exts[auth.AuthenticatorID]); ok {
		tp.authPolicy = pa
	}
	wrapped := make(map[component.ID]component.Component, len(exts))
	for id, ext := range exts {
		wrapped[id] = ext
	}
	wrapped[auth.AuthenticatorID] = tapAuth{Component: exts[auth.AuthenticatorID], next: server, policy: tp.authPolicy}
	return gcfg, tp, wrapped, nil
}
