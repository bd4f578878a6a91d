package tenantgatewayreceiver

import (
	"context"
	"crypto/sha256"
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
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// defaultMaxRequestBodySize is confighttp's default cap, kept when the
// config leaves max_request_body_size unset.
const defaultMaxRequestBodySize = 20 << 20

// defaultEncodings is confighttp's default compression_algorithms.
var defaultEncodings = []string{"", "gzip", "zstd", "zlib", "snappy", "deflate"}

// gateways shares one server between the logs, metrics and traces
// receivers created from the same config, as the otlp receiver does.
var gateways = struct {
	sync.Mutex
	m map[*Config]*gateway
}{m: map[*Config]*gateway{}}

func gatewayFor(cfg *Config, set receiver.Settings) (*gateway, error) {
	gateways.Lock()
	defer gateways.Unlock()
	if g, ok := gateways.m[cfg]; ok {
		return g, nil
	}
	g := &gateway{cfg: cfg, set: set}
	gateways.m[cfg] = g
	return g, nil
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

	startOnce, stopOnce sync.Once
	startErr            error
	server              *http.Server
	addr                net.Addr
	reg                 metric.Registration
	serving             sync.WaitGroup
}

// Start implements component.Component; the first call starts the server.
func (g *gateway) Start(ctx context.Context, host component.Host) error {
	g.startOnce.Do(func() { g.startErr = g.start(ctx, host) })
	return g.startErr
}

func (g *gateway) start(ctx context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, g.cfg.Policy)
	if err != nil {
		return err
	}
	g.policy = prov
	if g.reg, err = g.counters.register(g.set.TelemetrySettings); err != nil {
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

// Shutdown implements component.Component; the first call stops the server.
func (g *gateway) Shutdown(ctx context.Context) error {
	var err error
	g.stopOnce.Do(func() {
		gateways.Lock()
		delete(gateways.m, g.cfg)
		gateways.Unlock()
		if g.server != nil {
			err = g.server.Shutdown(ctx)
			g.serving.Wait()
		}
		if g.reg != nil {
			err = errors.Join(err, g.reg.Unregister())
		}
	})
	return err
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
		p := g.policy.Policy()
		ctx := r.Context()
		tenant, _, ok := identity.FromContext(ctx)
		if !ok {
			tenant, ok = g.tenantForCert(p, r)
			if ok {
				ctx = identity.WithTenant(ctx, tenant, identity.SourceClientCert)
			}
		}
		if !ok {
			sc := g.counters.series(seriesKey{unauthenticatedTenant, rt.protocol, rt.signal})
			sc.requests.Add(1)
			herr := &httpError{status: http.StatusUnauthorized, reason: "unauthenticated",
				msg: "no verified tenant: send the tenant's API key (Authorization: Bearer <key> or X-API-Key) or a registered client certificate"}
			sc.refuse(herr.reason)
			g.writeError(w, r, rt, herr)
			return
		}
		limits, key := p.Defaults.Limits, unknownTenant
		if t, known := p.Tenant(tenant); known {
			limits, key = t.Limits, t.ID
		}
		sc := g.counters.series(seriesKey{key, rt.protocol, rt.signal})
		sc.requests.Add(1)
		n, size, herr := g.handle(ctx, w, r, rt, key, limits)
		if herr != nil {
			sc.refuse(herr.reason)
			g.writeError(w, r, rt, herr)
			return
		}
		sc.records.Add(int64(n))
		sc.bytes.Add(int64(size))
	})
}

// handle runs one authenticated request; it writes the response on
// success and returns the refusal otherwise.
func (g *gateway) handle(ctx context.Context, w http.ResponseWriter, r *http.Request, rt *route, tenant string, limits policy.Limits) (records, size int, _ *httpError) {
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

	lim := g.limiters.get(tenant, limits)
	if !lim.enter(limits.MaxConcurrentRequests) {
		return 0, 0, errRateLimited("concurrency", time.Second, "tenant %s has %d requests in flight, its max_concurrent_requests", tenant, limits.MaxConcurrentRequests)
	}
	defer lim.leave()
	// A tenant whose buckets are empty is refused before its body is read,
	// so a flood costs the gateway as little as possible.
	now := time.Now()
	if d, empty := exhausted(lim.records.Load(), now); empty {
		return 0, 0, errRateLimited("records_rate", d, "tenant %s is over its records_per_second %d", tenant, limits.RecordsPerSecond)
	}
	if d, empty := exhausted(lim.bytes.Load(), now); empty {
		return 0, 0, errRateLimited("bytes_rate", d, "tenant %s is over its bytes_per_second %d", tenant, limits.BytesPerSecond)
	}

	decodedMax := g.serverMax
	if limits.MaxDecompressedBytes > 0 {
		decodedMax = min(decodedMax, limits.MaxDecompressedBytes)
	}
	body, herr := readBody(r, bodyLimits{raw: limits.MaxRequestBytes, decoded: decodedMax}, g.encodings, rt.implicitSnappy != nil && rt.implicitSnappy(mt))
	if herr != nil {
		return 0, 0, herr
	}
	if d, tooLarge := take(lim.bytes.Load(), len(body), time.Now()); tooLarge {
		return 0, 0, errTooLarge("request carries %d bytes, more than the tenant's bytes_per_second %d allows at once; split it", len(body), limits.BytesPerSecond)
	} else if d > 0 {
		return 0, 0, errRateLimited("bytes_rate", d, "tenant %s is over its bytes_per_second %d", tenant, limits.BytesPerSecond)
	}

	pl, herr := rt.decode(mt, body)
	if herr != nil {
		return 0, 0, herr
	}
	if herr := checkAttributes(pl, limits.MaxAttributesPerRecord); herr != nil {
		return 0, 0, herr
	}
	n := pl.records()
	if d, tooLarge := take(lim.records.Load(), n, time.Now()); tooLarge {
		return 0, 0, errTooLarge("request carries %d records, more than the tenant's records_per_second %d allows at once; split it", n, limits.RecordsPerSecond)
	} else if d > 0 {
		return 0, 0, errRateLimited("records_rate", d, "tenant %s is over its records_per_second %d", tenant, limits.RecordsPerSecond)
	}

	if err := g.consume(ctx, pl); err != nil {
		if consumererror.IsPermanent(err) {
			return 0, 0, errBadRequest("pipeline_refused", "the pipeline refused the data: %v", err)
		}
		return 0, 0, &httpError{status: http.StatusServiceUnavailable, reason: "pipeline_unavailable", retryAfter: time.Second,
			msg: fmt.Sprintf("the pipeline cannot take the data now: %v", err)}
	}
	rt.respond(w, mt)
	return n, len(body), nil
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
// for deployments that identify callers by certificate instead of a key.
func (g *gateway) tenantForCert(p *policy.Policy, r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
		return "", false
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
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	id, ok := idx.m["sha256:"+hex.EncodeToString(sum[:])]
	return id, ok
}
