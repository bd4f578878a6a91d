package tenantgatewayreceiver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

// defaultMaxRequestBodySize is confighttp's default cap, kept when the
// config leaves max_request_body_size unset.
const defaultMaxRequestBodySize = 20 << 20

// defaultEncodings is confighttp's default compression_algorithms.
var defaultEncodings = []string{"", "gzip", "zstd", "zlib", "snappy", "deflate"}

// gateways shares one server between the logs, metrics and traces
// receivers created from the same config, as the otlp receiver does: the
// first Start starts it, the first Shutdown stops it and forgets it.
var gateways = sharedcomponent.NewMap[*Config, *gateway]()

func gatewayFor(cfg *Config, set receiver.Settings) (*sharedcomponent.Component[*gateway], error) {
	return gateways.LoadOrStore(cfg, func() (*gateway, error) { return &gateway{cfg: cfg, set: set}, nil })
}

// gateway is the receiver: one HTTP server for every protocol and signal.
type gateway struct {
	cfg *Config
	set receiver.Settings

	logs    consumer.Logs
	metrics consumer.Metrics
	traces  consumer.Traces

	policy    policy.Provider
	limiters  limiters
	counters  counters
	certs     atomic.Pointer[certIndex]
	encodings []string
	serverMax int64
	inFlight  inFlight
	// grpcInFlight hands OTLP/gRPC messages, undecoded, from the codec
	// to their calls.
	grpcInFlight grpcInFlight

	server     *http.Server
	addr       net.Addr
	grpcServer *grpc.Server
	grpcAddr   net.Addr
	telemetry  *metadata.TelemetryBuilder
	serving    sync.WaitGroup
}

// Start implements component.Component; gateways calls it once for the
// three receivers.
func (g *gateway) Start(ctx context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, g.cfg.Policy)
	if err != nil {
		return err
	}
	g.policy = prov
	if g.telemetry, err = metadata.NewTelemetryBuilder(g.set.TelemetrySettings); err != nil {
		return fmt.Errorf("self-metrics: %w", err)
	}
	if err = g.counters.register(g.telemetry); err != nil {
		return fmt.Errorf("self-metrics: %w", err)
	}
	srv := g.cfg.ServerConfig
	g.encodings = srv.CompressionAlgorithms
	if g.encodings == nil {
		g.encodings = defaultEncodings
	}
	// The gateway decodes Content-Encoding itself, after it knows the
	// tenant, so each tenant's size limits bound the decompression.
	srv.CompressionAlgorithms = []string{}
	if srv.MaxRequestBodySize <= 0 {
		srv.MaxRequestBodySize = defaultMaxRequestBodySize
	}
	g.serverMax = srv.MaxRequestBodySize
	g.inFlight.max = g.cfg.MaxInFlightBytes
	ln, err := srv.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", srv.NetAddr.Endpoint, err)
	}
	g.server, err = srv.ToServer(ctx, host.GetExtensions(), g.set.TelemetrySettings, g.routes())
	if err != nil {
		_ = ln.Close()
		return err
	}
	g.addr = ln.Addr()
	if err := g.startGRPC(ctx, host); err != nil {
		_ = ln.Close()
		return err
	}
	g.set.Logger.Info("tenantgateway listening", zap.String("endpoint", ln.Addr().String()))
	g.serving.Add(1)
	go func() {
		defer g.serving.Done()
		if err := g.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

func (g *gateway) startGRPC(ctx context.Context, host component.Host) error {
	if g.cfg.GRPC.Get() == nil {
		return nil
	}
	// Streams are authenticated when they open, before grpc-go reads a
	// message (grpcTap), and a connection holds a bounded number of them.
	gcfg, tp, exts, err := g.grpcServerSetup(ctx, *g.cfg.GRPC.Get(), host.GetExtensions())
	if err != nil {
		return err
	}
	ln, err := gcfg.NetAddr.Listen(ctx)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", gcfg.NetAddr.Endpoint, err)
	}
	srv, err := gcfg.ToServer(ctx, exts, g.set.TelemetrySettings,
		configgrpc.WithGrpcServerOption(grpc.ForceServerCodecV2(newCostCodec(g, gcfg.MaxRecvMsgSizeMiB))),
		configgrpc.WithGrpcServerOption(grpc.StatsHandler(&g.grpcInFlight)),
		configgrpc.WithGrpcServerOption(grpc.InTapHandle(tp.handle)))
	if err != nil {
		_ = ln.Close()
		return err
	}
	if g.logs != nil {
		plogotlp.RegisterGRPCServer(srv, &grpcLogs{g: g})
	}
	if g.metrics != nil {
		pmetricotlp.RegisterGRPCServer(srv, &grpcMetrics{g: g})
	}
	if g.traces != nil {
		ptraceotlp.RegisterGRPCServer(srv, &grpcTraces{g: g})
	}
	g.grpcServer, g.grpcAddr = srv, ln.Addr()
	g.set.Logger.Info("tenantgateway listening for OTLP/gRPC", zap.String("endpoint", ln.Addr().String()))
	g.serving.Add(1)
	go func() {
		defer g.serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// Shutdown implements component.Component; gateways calls it once, at the
// first receiver's Shutdown.
func (g *gateway) Shutdown(ctx context.Context) error {
	var err error
	if g.grpcServer != nil {
		err = g.stopGRPC(ctx)
	}
	if g.server != nil {
		err = errors.Join(err, g.server.Shutdown(ctx))
	}
	g.serving.Wait()
	if g.telemetry != nil {
		g.telemetry.Shutdown()
	}
	return err
}

// stopGRPC lets the exports in flight finish until ctx ends, then closes
// their connections and cancels them: GracefulStop alone ignores ctx and
// would hold Shutdown as long as the pipeline holds an export. An export
// still held then ends when the pipeline lets it go, and GracefulStop's
// goroutine with it (it waits for the handlers whatever Stop does).
func (g *gateway) stopGRPC(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		g.grpcServer.GracefulStop()
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		g.grpcServer.Stop()
		return fmt.Errorf("OTLP/gRPC exports cut short: %w", ctx.Err())
	}
}

func (g *gateway) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range allRoutes() {
		mux.Handle(rt.path, g.serve(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("no such endpoint %q: the gateway serves /v1/logs, /v1/metrics, /v1/traces, /loki/api/v1/push and /api/v1/push", r.URL.Path), http.StatusNotFound)
	})
	return mux
}

// serve is the edge of every protocol: identity, limits, decoding, and the
// hand-over to the pipeline with the verified tenant in the context.
func (g *gateway) serve(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, who, herr := g.identify(r.Context(), r.TLS)
		sc := g.counters.series(seriesKey{who.key, rt.protocol, rt.signal})
		sc.requests.Add(1)
		if herr == nil {
			var n, size int
			if n, size, herr = g.handle(ctx, w, r, rt, who); herr == nil {
				sc.records.Add(int64(n))
				sc.bytes.Add(int64(size))
				return
			}
		}
		sc.refuse(herr.reason)
		g.writeError(w, r, rt, herr)
	})
}

// caller is who a request comes from: the key of its limiter and series
// (a policy tenant, unknownTenant or unauthenticatedTenant) and its limits.
type caller struct {
	key    string
	limits policy.Limits
}

// errNoPolicy refuses a request that comes before the policy extension
// has a policy: retryable, soon.
func errNoPolicy() *httpError {
	return &httpError{status: http.StatusServiceUnavailable, reason: "no_policy", retryAfter: time.Second, msg: "no tenant policy loaded yet"}
}

// identify finds the verified tenant of a request: the authenticator's, or
// a registered client certificate's. It returns ctx with that tenant.
func (g *gateway) identify(ctx context.Context, state *tls.ConnectionState) (context.Context, caller, *httpError) {
	p := g.policy.Policy()
	if p == nil {
		return ctx, caller{key: unauthenticatedTenant}, errNoPolicy()
	}
	auth, ok := identity.AuthFromContext(ctx)
	if !ok {
		var fp string
		if auth.Tenant, fp, ok = g.tenantForCert(p, state); ok {
			auth = identity.AuthData{Tenant: auth.Tenant, Source: identity.SourceClientCert, Credential: identity.CertID(fp)}
		}
	}
	if !ok {
		return ctx, caller{key: unauthenticatedTenant}, &httpError{status: http.StatusUnauthorized, reason: "unauthenticated",
			msg: "no verified tenant: send the tenant's API key (Authorization: Bearer <key> or X-API-Key) or a registered client certificate"}
	}
	// The receiver's name goes with the identity, so a quarantined resource
	// says where it came in.
	auth.Receiver = g.set.ID.String()
	ctx = identity.WithAuth(ctx, auth)
	if t, known := p.Tenant(auth.Tenant); known {
		return ctx, caller{key: t.ID, limits: t.Limits}, nil
	}
	return ctx, caller{key: unknownTenant, limits: p.Defaults.Limits}, nil
}

// handle runs one authenticated request; it writes the response on
// success and returns the refusal otherwise.
func (g *gateway) handle(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *route, who caller) (records, size int, _ *httpError) {
	limits := who.limits
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return 0, 0, &httpError{status: http.StatusMethodNotAllowed, reason: "method", msg: fmt.Sprintf("%s %s: only POST is served", r.Method, r.URL.Path)}
	}
	if !g.hasConsumer(rt.signal) {
		return 0, 0, &httpError{status: http.StatusNotFound, reason: "no_pipeline",
			msg: fmt.Sprintf("no %s pipeline uses this receiver", rt.signal)}
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !contains(rt.mediaTypes, mt) {
		return 0, 0, &httpError{status: http.StatusUnsupportedMediaType, reason: "unsupported_media_type",
			msg: fmt.Sprintf("Content-Type %q is not accepted at %s (accepted: %q)", r.Header.Get("Content-Type"), rt.path, rt.mediaTypes)}
	}
	if rt.checkParams != nil {
		if herr := rt.checkParams(params); herr != nil {
			return 0, 0, herr
		}
	}

	lim, herr := g.enter(who)
	if herr != nil {
		return 0, 0, herr
	}
	defer lim.leave()

	decodedMax := g.serverMax
	if limits.MaxDecompressedBytes > 0 {
		decodedMax = min(decodedMax, limits.MaxDecompressedBytes)
	}
	body, herr := readBody(r, bodyLimits{raw: limits.MaxRequestBytes, decoded: decodedMax}, g.encodings, rt.implicitSnappy != nil && rt.implicitSnappy(mt))
	if herr != nil {
		return 0, 0, herr
	}
	if herr := takeBytes(lim, who, len(body)); herr != nil {
		return 0, 0, herr
	}

	// Before any decoder: what the body's messages would cost to decode
	// (and for JSON, its nesting). What is left of a protobuf body's
	// budget bounds what its conversion adds (remote write's labels copied
	// to each sample).
	dl := decodeLimits{maxAttrs: limits.MaxAttributesPerRecord, maxDecoded: decodedMax}
	var cost int64
	switch {
	case mt == mediaJSON:
		if cost, herr = checkJSONCost(body, decodedMax, rt.protocol != protoLoki); herr != nil {
			return 0, 0, herr
		}
		if rt.protocol == protoLoki {
			// Loki's entries are arrays, which the object count does not
			// see; its decoder checks this cost against the tenant's bound.
			cost = max(cost, lokiJSONCost(body))
		}
	case mt == mediaProtobuf:
		req := rt.proto()
		if cost, herr = checkRequestCost(req, body, decodedMax); herr != nil {
			return 0, 0, herr
		}
		if decodedMax > 0 {
			dl.maxCost, dl.factor = max(req.factor*decodedMax-cost, 1), req.factor
		}
	}
	// Room in max_in_flight_bytes: the body and its decode cost now, what
	// a conversion adds when it knows (dl.reserve); all given back when
	// the pipeline has the request.
	var (
		held []func()
		own  int64
	)
	defer func() {
		for _, release := range held {
			release()
		}
	}()
	dl.reserve = func(n int64) *httpError {
		own += n
		release, herr := g.inFlight.take(n, own)
		if herr == nil {
			held = append(held, release)
		}
		return herr
	}
	if herr := dl.reserve(int64(len(body)) + cost); herr != nil {
		return 0, 0, herr
	}
	pl, herr := rt.decode(mt, body, dl)
	if herr != nil {
		return 0, 0, herr
	}
	n, herr := g.admit(ctx, lim, who, pl)
	if herr != nil {
		return 0, 0, herr
	}
	rt.respond(w, mt)
	return n, len(body), nil
}

// enter takes one of the tenant's concurrent request slots (the caller
// leaves it) and refuses a tenant whose buckets are empty before its body
// is read or decoded, so a flood costs the gateway as little as possible.
func (g *gateway) enter(who caller) (*tenantLimiter, *httpError) {
	limits := who.limits
	lim := g.limiters.get(who.key, limits)
	if !lim.enter(limits.MaxConcurrentRequests) {
		return nil, errRateLimited("concurrency", time.Second, "tenant %s has %d requests in flight, its max_concurrent_requests", who.key, limits.MaxConcurrentRequests)
	}
	now := time.Now()
	if d, empty := exhausted(lim.records.Load(), now); empty {
		lim.leave()
		return nil, errRateLimited("records_rate", d, "tenant %s is over its records_per_second %d", who.key, limits.RecordsPerSecond)
	}
	if d, empty := exhausted(lim.bytes.Load(), now); empty {
		lim.leave()
		return nil, errRateLimited("bytes_rate", d, "tenant %s is over its bytes_per_second %d", who.key, limits.BytesPerSecond)
	}
	return lim, nil
}

// takeBytes charges n decoded bytes to the tenant's bytes bucket.
func takeBytes(lim *tenantLimiter, who caller, n int) *httpError {
	d, tooLarge := take(lim.bytes.Load(), n, time.Now())
	switch {
	case tooLarge:
		return errTooLarge("request carries %d bytes, more than the tenant's bytes_per_second %d allows at once; split it", n, who.limits.BytesPerSecond)
	case d > 0:
		return errRateLimited("bytes_rate", d, "tenant %s is over its bytes_per_second %d", who.key, who.limits.BytesPerSecond)
	}
	return nil
}

// admit checks a decoded payload against the tenant's attribute and
// records limits and hands it to the pipeline.
func (g *gateway) admit(ctx context.Context, lim *tenantLimiter, who caller, pl payload) (int, *httpError) {
	limits := who.limits
	if herr := checkAttributes(pl, limits.MaxAttributesPerRecord); herr != nil {
		return 0, herr
	}
	n := pl.records()
	if d, tooLarge := take(lim.records.Load(), n, time.Now()); tooLarge {
		return 0, errTooLarge("request carries %d records, more than the tenant's records_per_second %d allows at once; split it", n, limits.RecordsPerSecond)
	} else if d > 0 {
		return 0, errRateLimited("records_rate", d, "tenant %s is over its records_per_second %d", who.key, limits.RecordsPerSecond)
	}
	if err := g.consume(ctx, pl); err != nil {
		if consumererror.IsPermanent(err) {
			return 0, errBadRequest("pipeline_refused", "the pipeline refused the data: %v", err)
		}
		return 0, &httpError{status: http.StatusServiceUnavailable, reason: "pipeline_unavailable", retryAfter: time.Second,
			msg: fmt.Sprintf("the pipeline cannot take the data now: %v", err)}
	}
	return n, nil
}

func (g *gateway) hasConsumer(signal string) bool {
	switch signal {
	case signalLogs:
		return g.logs != nil
	case signalMetrics:
		return g.metrics != nil
	case signalTraces:
		return g.traces != nil
	}
	return false
}

func (g *gateway) consume(ctx context.Context, pl payload) error {
	switch pl.signal {
	case signalLogs:
		return g.logs.ConsumeLogs(ctx, pl.logs)
	case signalMetrics:
		return g.metrics.ConsumeMetrics(ctx, pl.metrics)
	default:
		return g.traces.ConsumeTraces(ctx, pl.traces)
	}
}

func (g *gateway) writeError(w http.ResponseWriter, r *http.Request, rt *route, e *httpError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(e.retryAfter)))
	}
	if rt.writeError != nil {
		rt.writeError(w, r, e)
		return
	}
	http.Error(w, e.msg, e.status)
}

// certIndex maps client certificate fingerprints to tenants for one policy.
type certIndex struct {
	p *policy.Policy
	m map[string]string
}

// tenantForCert finds the tenant of a verified client certificate (mTLS),
// for deployments that identify callers by certificate instead of a key,
// and the certificate's SHA-256 fingerprint in hex.
func (g *gateway) tenantForCert(p *policy.Policy, state *tls.ConnectionState) (tenant, fingerprint string, ok bool) {
	if state == nil || len(state.VerifiedChains) == 0 || len(state.PeerCertificates) == 0 {
		return "", "", false
	}
	idx := g.certs.Load()
	if idx == nil || idx.p != p {
		idx = &certIndex{p: p, m: map[string]string{}}
		for _, id := range p.TenantIDs() {
			t, _ := p.Tenant(id)
			for _, fp := range t.ClientCerts {
				idx.m[fp] = id
			}
		}
		g.certs.Store(idx)
	}
	sum := sha256.Sum256(state.PeerCertificates[0].Raw)
	fingerprint = hex.EncodeToString(sum[:])
	tenant, ok = idx.m["sha256:"+fingerprint]
	return tenant, fingerprint, ok
}
