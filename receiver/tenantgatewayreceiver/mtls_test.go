package tenantgatewayreceiver

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCert(t *testing.T, cn string, parent *testCert, isCA bool) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCert{cert: cert, key: key, der: der}
}

func (c *testCert) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600))
	kb, err := x509.MarshalECPrivateKey(c.key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	return certFile, keyFile
}

func (c *testCert) tls() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key}
}

// TestMTLSIdentifiesTheTenantByCertificate: without an auth extension, a
// verified client certificate listed under a tenant's client_certs is the
// tenant's identity; a certificate of the same CA that no tenant lists is
// refused with 401.
func TestMTLSIdentifiesTheTenantByCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := newCert(t, "test-ca", nil, true)
	server := newCert(t, "gateway", ca, false)
	acme := newCert(t, "acme-client", ca, false)
	stranger := newCert(t, "stranger", ca, false)
	caFile, _ := ca.write(t, dir, "ca")
	serverCert, serverKey := server.write(t, dir, "server")

	sum := sha256.Sum256(acme.der)
	ha, err := policy.HashAPIKey(keyAcme)
	require.NoError(t, err)
	pol := fmt.Sprintf("tenants:\n  acme:\n    api_keys: [%q]\n    client_certs: [\"sha256:%s\"]\n", ha, hex.EncodeToString(sum[:]))

	tg := startGateway(t, pol, func(c *Config) {
		c.Auth = configoptional.None[confighttp.AuthConfig]()
		tlsCfg := configtls.NewDefaultServerConfig()
		tlsCfg.CertFile, tlsCfg.KeyFile, tlsCfg.ClientCAFile = serverCert, serverKey, caFile
		c.TLS = configoptional.Some(tlsCfg)
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	post := func(client *testCert) int {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{client.tls()}, MinVersion: tls.VersionTLS12}}}
		url := "https://" + tg.g.addr.String() + "/v1/logs"
		resp, err := c.Post(url, ctProto, bytes.NewReader(logsProto(t, testLogs(1, 0))))
		require.NoError(t, err)
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, post(acme))
	assert.Equal(t, http.StatusUnauthorized, post(stranger))
	got := tg.sink.all()
	require.Len(t, got, 1)
	assert.Equal(t, "acme", got[0].tenant)
	// The certificate's short id and the receiver travel on, so a
	// quarantined spoof names what sent it.
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceClientCert,
		Credential: identity.CertID(hex.EncodeToString(sum[:])), Receiver: "tenantgateway/edge"}, got[0].auth)
}

func TestSelfMetrics(t *testing.T) {
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	tg := startGatewayWithMeter(t, policyWith(t, "records_per_second: 5", ""), mp)

	require.Equal(t, http.StatusOK, tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(4, 0)), "Content-Type", ctProto).status)
	require.Equal(t, http.StatusTooManyRequests, tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(4, 0)), "Content-Type", ctProto).status)
	require.Equal(t, http.StatusUnsupportedMediaType, tg.post(t, "/loki/api/v1/push", keyGlobex, []byte("x"), "Content-Type", "text/plain").status)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	values := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				key := m.Name
				for _, kv := range dp.Attributes.ToSlice() {
					key += "," + string(kv.Key) + "=" + kv.Value.AsString()
				}
				values[key] = dp.Value
			}
		}
	}
	assert.EqualValues(t, 2, values["otelcol_tenantgateway_requests,protocol=otlp,signal=logs,tenant=acme"], values)
	assert.EqualValues(t, 4, values["otelcol_tenantgateway_records,protocol=otlp,signal=logs,tenant=acme"], values)
	assert.EqualValues(t, 1, values["otelcol_tenantgateway_refused,protocol=otlp,reason=records_rate,signal=logs,tenant=acme"], values)
	assert.EqualValues(t, 1, values["otelcol_tenantgateway_refused,protocol=loki,reason=unsupported_media_type,signal=logs,tenant=globex"], values)
}
