package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// gatewayConfig is the identity pipeline behind the tenantgateway receiver.
const gatewayConfig = `
extensions:
  tenantpolicy:
    path: {{POLICY}}
    reload_interval: 200ms
  health_check:
    endpoint: {{HEALTH}}
receivers:
  tenantgateway:
    endpoint: {{HTTP}}
    auth: {authenticator: tenantpolicy}
    grpc:
      endpoint: {{GRPC}}
      auth: {authenticator: tenantpolicy}
processors:
  tenant:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
exporters:
  tenantfile:
    directory: {{DATA}}
service:
  telemetry:
    metrics:
      level: none
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [tenantgateway], processors: [tenant], exporters: [tenantfile]}
    metrics: {receivers: [tenantgateway], processors: [tenant], exporters: [tenantfile]}
    traces: {receivers: [tenantgateway], processors: [tenant], exporters: [tenantfile]}
`

// gatewayPost sends body to the gateway and returns the status and body.
func gatewayPost(t *testing.T, c *collector, path, key string, body []byte, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+c.httpAddr+path, bytes.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// allTenantLines is every line of every partition, by tenant.
func allTenantLines(t *testing.T, c *collector, signal string) map[string]string {
	out := map[string]string{}
	for _, tn := range c.tenants(t) {
		out[tn] = strings.Join(c.lines(t, tn, signal), "\n")
	}
	return out
}

func TestEndToEndGatewayOTLPAndLoki(t *testing.T) {
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), gatewayConfig)

	// OTLP/HTTP through the gateway, every signal.
	for _, sig := range signals {
		code, body := gatewayPost(t, c, "/v1/"+sig, demoKeys["initech"], newPayload("gw-otlp-initech-"+sig, "").body(t, sig),
			"Content-Type", "application/x-protobuf")
		require.Equal(t, http.StatusOK, code, body)
	}

	// OTLP/gRPC on the gateway's optional gRPC port.
	for _, sig := range signals {
		require.Equal(t, codes.OK, c.sendGRPC(t, sig, newPayload("gw-grpc-globex-"+sig, ""), "x-api-key", demoKeys["globex"]), sig)
	}
	assert.Equal(t, codes.Unauthenticated, c.sendGRPC(t, "logs", newPayload("gw-nokey", "")))

	// A Loki client speaking protobuf + snappy, as Promtail and Alloy do.
	ts := time.Now()
	pr := push.PushRequest{Streams: []push.Stream{{
		Labels: `{job="shop", env="prod"}`,
		Entries: []push.Entry{
			{Timestamp: ts, Line: "gw-loki-proto-acme order paid"},
			{Timestamp: ts.Add(time.Millisecond), Line: "gw-loki-proto-acme-2", StructuredMetadata: push.LabelsAdapter{{Name: "user", Value: "u-17"}}},
		},
	}}}
	pb, err := pr.Marshal()
	require.NoError(t, err)
	code, body := gatewayPost(t, c, "/loki/api/v1/push", demoKeys["acme"], snappy.Encode(nil, pb), "Content-Type", "application/x-protobuf")
	require.Equal(t, http.StatusNoContent, code, body)

	// A Loki client speaking JSON, gzipped.
	js := fmt.Sprintf(`{"streams":[{"stream":{"job":"billing"},"values":[["%d","gw-loki-json-globex invoice sent",{"invoice":"i-9"}]]}]}`, ts.UnixNano())
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(js))
	require.NoError(t, zw.Close())
	code, body = gatewayPost(t, c, "/loki/api/v1/push", demoKeys["globex"], gz.Bytes(), "Content-Type", "application/json", "Content-Encoding", "gzip")
	require.Equal(t, http.StatusNoContent, code, body)

	// Without a key, or with a wrong one: 401, nothing lands.
	code, _ = gatewayPost(t, c, "/loki/api/v1/push", "", snappy.Encode(nil, pb), "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusUnauthorized, code)
	code, _ = gatewayPost(t, c, "/v1/logs", "not-a-tenant-key-00000001", newPayload("gw-nokey", "").body(t, "logs"), "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusUnauthorized, code)
	// A client mistake is a 4xx naming it, and the collector stays up.
	code, body = gatewayPost(t, c, "/loki/api/v1/push", demoKeys["acme"], []byte(`{"streams":[{"stream":{"job":"a"},"values":[["soon","x"]]}]}`), "Content-Type", "application/json")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "streams[0].values[0][0]")

	waitFor(t, "the Loki and OTLP records to land", 15*time.Second, func() bool {
		logs := allTenantLines(t, c, "logs")
		return strings.Contains(logs["acme"], "gw-loki-proto-acme-2") && strings.Contains(logs["globex"], "gw-loki-json-globex") &&
			strings.Contains(logs["initech"], "gw-otlp-initech-logs")
	})
	logs := allTenantLines(t, c, "logs")
	assert.Contains(t, logs["acme"], `"u-17"`, "structured metadata kept")
	assert.Contains(t, logs["acme"], fmt.Sprintf(`"timeUnixNano":"%d"`, ts.UnixNano()), "timestamp kept")
	for tenant, content := range logs {
		if tenant != "acme" {
			assert.NotContains(t, content, "gw-loki-proto-acme", "acme's Loki lines in %s", tenant)
		}
		if tenant != "globex" {
			assert.NotContains(t, content, "gw-loki-json-globex", "globex's Loki lines in %s", tenant)
		}
		assert.NotContains(t, content, "gw-nokey")
	}
	metrics, traces := allTenantLines(t, c, "metrics"), allTenantLines(t, c, "traces")
	assert.Contains(t, metrics["initech"], "gw-otlp-initech-metrics")
	assert.Contains(t, traces["initech"], "gw-otlp-initech-traces")
	waitFor(t, "the gRPC records to land", 15*time.Second, func() bool {
		return strings.Contains(allTenantLines(t, c, "traces")["globex"], "gw-grpc-globex-traces")
	})
	for _, sig := range signals {
		for tenant, content := range allTenantLines(t, c, sig) {
			if tenant == "globex" {
				assert.Contains(t, content, "gw-grpc-globex-"+sig)
			} else {
				assert.NotContains(t, content, "gw-grpc-globex", "globex's gRPC %s in %s", sig, tenant)
			}
		}
	}
}

// TestEndToEndGatewayPrometheusRemoteWrite runs a real Prometheus that
// scrapes itself and remote-writes to the gateway with globex's key.
func TestEndToEndGatewayPrometheusRemoteWrite(t *testing.T) {
	bin := peertest.Binary(t, "TENANCY_PROMETHEUS", "prometheus")
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), gatewayConfig)

	dir := t.TempDir()
	promAddr := peertest.FreeAddr(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: prom-self
    static_configs:
      - targets: [%q]
remote_write:
  - url: http://%s/api/v1/push
    authorization:
      credentials: %q
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
`, promAddr, c.httpAddr, demoKeys["globex"])
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	out := peertest.Start(t, time.Minute, "http://"+promAddr+"/-/ready", bin, "--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)

	waitFor(t, "Prometheus' own samples under globex", 60*time.Second, func() bool {
		m := strings.Join(c.lines(t, "globex", "metrics"), "\n")
		return strings.Contains(m, `"prometheus_build_info"`) && strings.Contains(m, `"up"`)
	})
	metrics := allTenantLines(t, c, "metrics")
	g := metrics["globex"]
	assert.Contains(t, g, `"service.name","value":{"stringValue":"prom-self"}`, "job as service.name")
	assert.Contains(t, g, `"tenant.id","value":{"stringValue":"globex"}`)
	for tenant, content := range metrics {
		if tenant != "globex" {
			assert.NotContains(t, content, "prometheus_build_info", "Prometheus' samples reached %s", tenant)
			assert.NotContains(t, content, "prom-self", "Prometheus' samples reached %s", tenant)
		}
	}
	// Prometheus logs a refused push as "server returned HTTP status 401
	// Unauthorized"; a bare "401" also matches the random temp dir names.
	assert.NotContains(t, out.String(), "HTTP status 401", "Prometheus was refused")
}

// TestEndToEndGatewayTelemetrygen sends every signal with telemetrygen over
// OTLP/HTTP with initech's key; everything lands under initech only.
func TestEndToEndGatewayTelemetrygen(t *testing.T) {
	bin := peertest.Binary(t, "TENANCY_TELEMETRYGEN", "telemetrygen")
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), gatewayConfig)
	header := fmt.Sprintf("X-API-Key=%q", demoKeys["initech"])
	for _, sig := range signals {
		args := []string{sig, "--otlp-http", "--otlp-insecure", "--otlp-endpoint", c.httpAddr, "--otlp-header", header,
			"--service", "gw-tgen-" + sig, "--rate", "0", "--" + sig, "5"}
		out, err := exec.Command(bin, args...).CombinedOutput()
		require.NoError(t, err, "telemetrygen %s:\n%s", sig, out)
	}
	// A wrong key is refused, and telemetrygen reports it.
	out, _ := exec.Command(bin, "logs", "--otlp-http", "--otlp-insecure", "--otlp-endpoint", c.httpAddr,
		"--otlp-header", `X-API-Key="not-a-tenant-key-00000001"`, "--service", "gw-tgen-refused", "--logs", "1").CombinedOutput()
	assert.Contains(t, string(out), "401", "telemetrygen with a wrong key:\n%s", out)

	waitFor(t, "telemetrygen's records under initech", 15*time.Second, func() bool {
		for _, sig := range signals {
			if !strings.Contains(strings.Join(c.lines(t, "initech", sig), "\n"), "gw-tgen-"+sig) {
				return false
			}
		}
		return true
	})
	for _, sig := range signals {
		for tenant, content := range allTenantLines(t, c, sig) {
			if tenant != "initech" {
				assert.NotContains(t, content, "gw-tgen-", "telemetrygen's %s reached %s", sig, tenant)
			}
			assert.NotContains(t, content, "gw-tgen-refused")
		}
	}
}
