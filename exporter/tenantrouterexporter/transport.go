package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// httpTransport is what the HTTP backends share: the client confighttp
// builds (TLS, auth extension, compression, proxy, headers) and the
// per-tenant headers, the tenant id and the tenant's own credential.
type httpTransport struct {
	name   string
	cfg    *BackendConfig
	header string
	client *http.Client
	router *router
	conns  *connSet
}

func newHTTPTransport(name string, cfg *BackendConfig) httpTransport {
	h := cfg.TenantHeader
	if h == "" {
		h = DefaultTenantHeader
	}
	idle := defaultIdleConnTimeout
	if ka := cfg.Keepalive.Get(); ka != nil && ka.IdleConnTimeout > 0 {
		idle = ka.IdleConnTimeout
	}
	return httpTransport{name: name, cfg: cfg, header: h, conns: &connSet{seen: map[net.Conn]time.Time{}, forget: idle + time.Minute}}
}

func (h *httpTransport) start(ctx context.Context, host component.Host, r *router) error {
	c, err := h.cfg.ToClient(ctx, host.GetExtensions(), r.telemetry)
	if err != nil {
		return fmt.Errorf("backends.%s: %w", h.name, err)
	}
	h.client, h.router = c, r
	return nil
}

func (h *httpTransport) shutdown(context.Context) error {
	if h.client != nil {
		h.client.CloseIdleConnections()
	}
	h.conns.closeAll()
	return nil
}

// defaultIdleConnTimeout is net/http's, for a client that sets none.
const defaultIdleConnTimeout = 90 * time.Second

// connSet holds the connections the client's requests were given, so
// shutdown can close them: http.Client.CloseIdleConnections reaches the
// transport only through wrappers that pass the call on, and otelhttp's,
// which confighttp puts around every client, does not. An idle keep-alive
// connection would outlive the exporter, with net/http's two goroutines,
// until the backend or the idle timeout closed it.
type connSet struct {
	mu   sync.Mutex
	seen map[net.Conn]time.Time // when last given to a request
	// forget: a connection unused this long was closed by the transport's
	// idle timeout; dropping it bounds the set.
	forget time.Duration
}

// trace records the connection a request gets.
func (c *connSet) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		now := time.Now()
		c.mu.Lock()
		defer c.mu.Unlock()
		for conn, at := range c.seen {
			if now.Sub(at) > c.forget {
				delete(c.seen, conn)
			}
		}
		c.seen[info.Conn] = now
	}})
}

// closeAll closes every connection still held, idle or not: the queues
// have stopped sending.
func (c *connSet) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.seen {
		_ = conn.Close()
	}
	clear(c.seen)
}

// do sends req for tenant: the tenant header, then the tenant's
// credential headers; a tenant this backend cannot send for is refused
// for good, never sent without them.
func (h *httpTransport) do(req *http.Request, tenant string) error {
	if err := setTenant(req, h.cfg, h.header, tenant); err != nil {
		closeBody(req)
		return err
	}
	if len(h.cfg.TenantHeaders) > 0 {
		secret, err := h.router.creds.lookup(h.router.provider.Policy(), h.name, tenant)
		if err != nil {
			closeBody(req)
			return consumererror.NewPermanent(&refusal{reason: reasonNoCredential, err: err})
		}
		for k, v := range h.cfg.TenantHeaders {
			req.Header.Set(k, strings.ReplaceAll(v, credentialPlaceholder, secret))
		}
	}
	resp, err := h.client.Do(req.WithContext(h.conns.trace(req.Context())))
	if err != nil {
		return err
	}
	return classify(resp)
}

// closeBody closes the body of a request that will not be sent, as the
// transport would have: a body in reused memory holds a reference until
// closed (otlpbuf).
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// refusal is a permanent failure counted under its own reason rather than
// "permanent".
type refusal struct {
	reason string
	err    error
}

func (e *refusal) Error() string { return e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// errNoCredential: the tenant has no usable credential for a backend with
// tenant_headers.
var errNoCredential = errors.New("no credential")

// credentials finds a tenant's own credential at a backend: the policy
// names, per tenant and backend, the environment variable holding it. A
// variable two tenants name for one backend is no one's credential there,
// since they would read each other's data under it.
type credentials struct {
	mu     sync.Mutex
	pol    *policy.Policy
	shared map[[2]string][]string // (backend, variable) -> tenants naming it, when more than one
}

func (c *credentials) lookup(pol *policy.Policy, backend, tenant string) (string, error) {
	t, ok := pol.Tenant(tenant)
	if !ok {
		return "", fmt.Errorf("%w: tenant %s is not in the policy", errNoCredential, tenant)
	}
	env, ok := t.BackendCredentials[backend]
	if !ok {
		return "", fmt.Errorf("%w: tenant %s's policy names none under backend_credentials.%s", errNoCredential, tenant, backend)
	}
	if others := c.sharedOf(pol)[[2]string{backend, env}]; len(others) > 0 {
		return "", fmt.Errorf("%w: tenants %s all name %s for backend %s; each needs its own", errNoCredential, strings.Join(others, ", "), env, backend)
	}
	v := os.Getenv(env)
	switch {
	case v == "":
		return "", fmt.Errorf("%w: environment variable %s (tenant %s, backend %s) is unset or empty", errNoCredential, env, tenant, backend)
	case !validHeaderValue(v):
		return "", fmt.Errorf("%w: environment variable %s (tenant %s, backend %s) is not a header value (control characters or surrounding spaces)", errNoCredential, env, tenant, backend)
	}
	return v, nil
}

// sharedOf is the policy's shared variables, computed once per policy.
func (c *credentials) sharedOf(pol *policy.Policy) map[[2]string][]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pol == pol {
		return c.shared
	}
	byVar := map[[2]string][]string{}
	for _, id := range pol.TenantIDs() {
		t, _ := pol.Tenant(id)
		for b, env := range t.BackendCredentials {
			byVar[[2]string{b, env}] = append(byVar[[2]string{b, env}], id)
		}
	}
	for k, ts := range byVar {
		if len(ts) < 2 {
			delete(byVar, k)
		}
	}
	c.pol, c.shared = pol, byVar
	return byVar
}
