package tenantrouterexporter

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	dir        string
	pool       *x509.CertPool
	serverCert tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tenancy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips ...net.IP) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		kb, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	p := &testPKI{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	sc, sk := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth, net.ParseIP("127.0.0.1"))
	p.serverCert, err = tls.X509KeyPair(sc, sk)
	require.NoError(t, err)
	cc, ck := leaf(3, "tenancy-router", x509.ExtKeyUsageClientAuth)
	write := func(name string, b []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	write("ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write("client.pem", cc)
	write("client-key.pem", ck)
	return p
}

func (p *testPKI) file(name string) string { return filepath.Join(p.dir, name) }

// seen is what a test backend learnt of each request.
type seen struct {
	tenant, clientCN, encoding, auth string
	markers                          []string
}

type recorder struct {
	mu  sync.Mutex
	got []seen
}

func (rc *recorder) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := seen{tenant: r.Header.Get(DefaultTenantHeader), encoding: r.Header.Get("Content-Encoding"), auth: r.Header.Get("Authorization")}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			s.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		var body io.Reader = r.Body
		if s.encoding == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if !assert.NoError(t, err) {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			body = gz
		}
		raw, _ := io.ReadAll(body)
		req := plogotlp.NewExportRequest()
		if !assert.NoError(t, req.UnmarshalProto(raw), "the body is OTLP protobuf once decoded") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for i := 0; i < req.Logs().ResourceLogs().Len(); i++ {
			if v, ok := req.Logs().ResourceLogs().At(i).Resource().Attributes().Get("marker"); ok {
				s.markers = append(s.markers, v.Str())
			}
		}
		rc.mu.Lock()
		rc.got = append(rc.got, s)
		rc.mu.Unlock()
	}
}

func (rc *recorder) requests() []seen {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]seen(nil), rc.got...)
}

func otlpOnly(cfg *Config, name string) {
	cfg.DefaultBackends = map[string][]string{"logs": {name}, "metrics": {name}, "traces": {name}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{name}, []string{name}
}

// TestMTLSBackend: a backend over TLS with our CA and a client
// certificate reaches a server that requires one (it sees the
// certificate); the same server refuses a backend with the CA alone, whose
// batch stays queued and retried, never delivered.
func TestMTLSBackend(t *testing.T) {
	pki := newTestPKI(t)
	rc := &recorder{}
	srv := httptest.NewUnstartedServer(rc.handler(t))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	mtls := confighttp.NewDefaultClientConfig()
	mtls.Endpoint = srv.URL
	mtls.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: pki.file("ca.pem"), CertFile: pki.file("client.pem"), KeyFile: pki.file("client-key.pem")}}
	caOnly := confighttp.NewDefaultClientConfig()
	caOnly.Endpoint = srv.URL
	caOnly.TLS = configtls.ClientConfig{Config: configtls.Config{CAFile: pki.file("ca.pem")}}
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"mtls":    {Type: TypeOTLPHTTP, ClientConfig: mtls, Retry: fastRetry()},
		"no_cert": {Type: TypeOTLPHTTP, ClientConfig: caOnly, Retry: fastRetry()},
	}
	otlpOnly(cfg, "mtls")
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [mtls]}}\n  globex: {backends: {logs: [no_cert]}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a1"}, [2]string{"globex", "g1"})))
	eventually(t, "acme over mTLS", func() bool { return e.stats("acme", "mtls").sent[0].Load() == 1 })
	eventually(t, "globex's handshake refused and retried", func() bool { return e.stats("globex", "no_cert").retries.Load() >= 2 })
	got := rc.requests()
	require.Len(t, got, 1, "only the request with a client certificate got through")
	assert.Equal(t, seen{tenant: "acme", clientCN: "tenancy-router", markers: []string{"a1"}}, got[0])
	assert.Zero(t, e.stats("globex", "no_cert").sent[0].Load())
	assert.EqualValues(t, 1, e.stats("globex", "no_cert").size.Load(), "still queued, not dropped")
}

// TestCompressedBackend: compression: gzip reaches the server gzipped.
func TestCompressedBackend(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc.handler(t))
	t.Cleanup(srv.Close)
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = srv.URL
	cc.Compression = configcompression.TypeGzip
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"gz": {Type: TypeOTLPHTTP, ClientConfig: cc, Retry: fastRetry()}}
	otlpOnly(cfg, "gz")
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "z1"})))
	eventually(t, "the request", func() bool { return len(rc.requests()) == 1 })
	assert.Equal(t, seen{tenant: "acme", encoding: "gzip", markers: []string{"z1"}}, rc.requests()[0])
}

// TestShutdownClosesBackendConnections: once the router is shut down, the
// keep-alive connections of its HTTP backends are closed, not left idle
// (with net/http's two goroutines each) until the backend or the idle
// timeout closes them.
func TestShutdownClosesBackendConnections(t *testing.T) {
	var open atomic.Int64
	rc := &recorder{}
	srv := httptest.NewUnstartedServer(rc.handler(t))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = srv.URL
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"otlp": {Type: TypeOTLPHTTP, ClientConfig: cc, Retry: fastRetry()}}
	otlpOnly(cfg, "otlp")
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "k1"})))
	eventually(t, "the request", func() bool { return len(rc.requests()) == 1 })
	require.EqualValues(t, 1, open.Load(), "the connection is kept alive after the request")
	e.stop(t)
	eventually(t, "the router to close its connection", func() bool { return open.Load() == 0 })
}

// headerAuth is an authenticator extension that sets Authorization.
type headerAuth struct {
	component.StartFunc
	component.ShutdownFunc
}

type authRT struct{ base http.RoundTripper }

func (a authRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer from-extension")
	return a.base.RoundTrip(r)
}

func (headerAuth) RoundTripper(base http.RoundTripper) (http.RoundTripper, error) {
	return authRT{base}, nil
}

// TestAuthExtensionBackend: auth names an authenticator extension, which
// signs every request.
func TestAuthExtensionBackend(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc.handler(t))
	t.Cleanup(srv.Close)
	authID := component.MustNewID("fakeauth")
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = srv.URL
	cc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: authID})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"signed": {Type: TypeOTLPHTTP, ClientConfig: cc, Retry: fastRetry()}}
	otlpOnly(cfg, "signed")
	e := startRouterWith(t, cfg, "tenants: {acme: {}}\n", map[component.ID]component.Component{authID: headerAuth{}})
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "s1"})))
	eventually(t, "the request", func() bool { return len(rc.requests()) == 1 })
	assert.Equal(t, "Bearer from-extension", rc.requests()[0].auth)
}

// TestTenantCredentials: a backend with tenant_headers sends each tenant
// with its own credential, from the environment variable its policy
// names. A tenant without one (none named, the variable unset, or a
// variable another tenant names too) is never sent there: counted
// no_credential, nothing reaches the backend under it.
func TestTenantCredentials(t *testing.T) {
	rc := &recorder{}
	srv := httptest.NewServer(rc.handler(t))
	t.Cleanup(srv.Close)
	t.Setenv("TEST_ROUTER_ACME_TOKEN", "acme-secret-1")
	t.Setenv("TEST_ROUTER_GLOBEX_TOKEN", "globex-secret-2")
	t.Setenv("TEST_ROUTER_SHARED", "shared-secret")
	t.Setenv("TEST_ROUTER_UNSET", "")
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("4d", 32))
	cc := confighttp.NewDefaultClientConfig()
	cc.Endpoint = srv.URL
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
		"remote": {Type: TypeOTLPHTTP, ClientConfig: cc, TenantHeaders: map[string]string{"Authorization": "Bearer {credential}"}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"remote"}}
	e := startRouter(t, cfg, `tenants:
  acme: {backend_credentials: {remote: TEST_ROUTER_ACME_TOKEN}}
  globex: {backend_credentials: {remote: TEST_ROUTER_GLOBEX_TOKEN}}
  initech: {}
  hooli: {backend_credentials: {remote: TEST_ROUTER_UNSET}}
  umbrella: {backend_credentials: {remote: TEST_ROUTER_SHARED}}
  cyberdyne: {backend_credentials: {remote: TEST_ROUTER_SHARED}}
`)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a1"}, [2]string{"globex", "g1"},
		[2]string{"initech", "i1"}, [2]string{"hooli", "h1"}, [2]string{"umbrella", "u1"}, [2]string{"cyberdyne", "c1"})))
	eventually(t, "acme and globex", func() bool { return len(rc.requests()) == 2 })
	byTenant := map[string]seen{}
	for _, s := range rc.requests() {
		byTenant[s.tenant] = s
	}
	assert.Equal(t, "Bearer acme-secret-1", byTenant["acme"].auth)
	assert.Equal(t, "Bearer globex-secret-2", byTenant["globex"].auth)
	for _, tn := range []string{"initech", "hooli", "umbrella", "cyberdyne"} {
		assert.EqualValues(t, 1, e.stats(tn, "remote").failed[0][reasonIndex(reasonNoCredential)].Load(), tn)
		assert.Zero(t, e.stats(tn, "remote").sent[0].Load(), tn)
	}

	// A credential that disappears after routing (a policy reload) fails
	// at send time, for good, under the same reason.
	tr := e.r.backends["remote"].(*otlpHTTPBackend)
	req := httptest.NewRequest(http.MethodPost, srv.URL, nil)
	err := tr.do(req, "initech")
	var rf *refusal
	require.ErrorAs(t, err, &rf)
	assert.Equal(t, reasonNoCredential, rf.reason)
	assert.Len(t, rc.requests(), 2, "nothing sent without the credential")
}

// TestPolicyNamesCredentialVariableNotSecret: backend_credentials takes a
// variable's name; a value that is not one is refused without quoting it.
func TestPolicyNamesCredentialVariableNotSecret(t *testing.T) {
	_, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme: {backend_credentials: {remote: \"sk-live/abc+123==\"}}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tenants.acme.backend_credentials.remote: want the name of the environment variable")
	assert.NotContains(t, err.Error(), "sk-live")
}
