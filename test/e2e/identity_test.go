package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// The demo keys of config/tenants.yaml, as the README documents them.
var demoKeys = map[string]string{
	"acme":    "acme-demo-key-0000000001",
	"globex":  "globex-demo-key-000000001",
	"initech": "initech-demo-key-00000001",
}

var signals = []string{"logs", "metrics", "traces"}

// payload is one request's worth of each signal, every record carrying
// marker so the test can find where it landed.
type payload struct {
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
}

func newPayload(marker, claim string) payload {
	p := payload{logs: plog.NewLogs(), metrics: pmetric.NewMetrics(), traces: ptrace.NewTraces()}
	rl := p.logs.ResourceLogs().AppendEmpty()
	rm := p.metrics.ResourceMetrics().AppendEmpty()
	rs := p.traces.ResourceSpans().AppendEmpty()
	for _, r := range []interface{ PutStr(string, string) }{rl.Resource().Attributes(), rm.Resource().Attributes(), rs.Resource().Attributes()} {
		r.PutStr("service.name", "e2e")
		if claim != "" {
			r.PutStr("tenant.id", claim)
		}
	}
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(1)
	lr.Body().SetStr(marker)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e_orders")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetIntValue(1)
	dp.Attributes().PutStr("marker", marker)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName(marker)
	sp.SetTraceID([16]byte{1})
	sp.SetSpanID([8]byte{1})
	return p
}

func (p payload) body(t *testing.T, signal string) []byte {
	var b []byte
	var err error
	switch signal {
	case "logs":
		b, err = plogotlp.NewExportRequestFromLogs(p.logs).MarshalProto()
	case "metrics":
		b, err = pmetricotlp.NewExportRequestFromMetrics(p.metrics).MarshalProto()
	case "traces":
		b, err = ptraceotlp.NewExportRequestFromTraces(p.traces).MarshalProto()
	}
	require.NoError(t, err)
	return b
}

// postHTTP sends one signal over OTLP/HTTP and returns the status code.
func (c *collector) postHTTP(t *testing.T, signal string, p payload, headers map[string]string) int {
	t.Helper()
	return c.postHTTPVia(t, http.DefaultClient, signal, p, headers)
}

// postHTTPVia is postHTTP through a given client (one that dials from
// another source address, say).
func (c *collector) postHTTPVia(t *testing.T, hc *http.Client, signal string, p payload, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+c.httpAddr+"/v1/"+signal, bytes.NewReader(p.body(t, signal)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// sendGRPC sends one signal over OTLP/gRPC and returns its status code.
func (c *collector) sendGRPC(t *testing.T, signal string, p payload, md ...string) codes.Code {
	t.Helper()
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(contextWithTimeout(t), md...)
	switch signal {
	case "logs":
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(p.logs))
	case "metrics":
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(p.metrics))
	case "traces":
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(p.traces))
	}
	return status.Code(err)
}

func TestEndToEndIdentity(t *testing.T) {
	c := startCollector(t, readRepoFile(t, "config/tenants.yaml"))

	// Each tenant sends every signal over both transports with its own key.
	var expected []string
	for tenant, key := range demoKeys {
		for _, sig := range signals {
			httpMarker := fmt.Sprintf("m-%s-http-%s", tenant, sig)
			grpcMarker := fmt.Sprintf("m-%s-grpc-%s", tenant, sig)
			require.Equal(t, http.StatusOK, c.postHTTP(t, sig, newPayload(httpMarker, ""), map[string]string{"Authorization": "Bearer " + key}), httpMarker)
			require.Equal(t, codes.OK, c.sendGRPC(t, sig, newPayload(grpcMarker, ""), "x-api-key", key), grpcMarker)
			expected = append(expected, httpMarker, grpcMarker)
		}
	}

	// acme's key with a resource that claims globex: a spoof.
	for _, sig := range signals {
		require.Equal(t, http.StatusOK, c.postHTTP(t, sig, newPayload("m-spoof-"+sig, "globex"), map[string]string{"X-API-Key": demoKeys["acme"]}))
	}

	// Unknown and missing keys are refused before anything enters the pipeline.
	for _, sig := range signals {
		assert.Equal(t, http.StatusUnauthorized, c.postHTTP(t, sig, newPayload("m-unknown-"+sig, "acme"), map[string]string{"X-API-Key": "not-a-tenant-key-00000001"}))
		assert.Equal(t, http.StatusUnauthorized, c.postHTTP(t, sig, newPayload("m-nokey-"+sig, "acme"), nil))
		assert.Equal(t, codes.Unauthenticated, c.sendGRPC(t, sig, newPayload("m-unknown-grpc-"+sig, "acme"), "authorization", "Bearer not-a-tenant-key-00000001"))
		assert.Equal(t, codes.Unauthenticated, c.sendGRPC(t, sig, newPayload("m-nokey-grpc-"+sig, "acme")))
	}

	all := func() string {
		var b strings.Builder
		for _, tn := range c.tenants(t) {
			for _, sig := range signals {
				b.WriteString(strings.Join(c.lines(t, tn, sig), "\n"))
			}
		}
		return b.String()
	}
	waitFor(t, "every accepted record to land", 15*time.Second, func() bool {
		return containsAll(all(), append(expected, "m-spoof-logs", "m-spoof-metrics", "m-spoof-traces")...)
	})

	assert.ElementsMatch(t, []string{"acme", "globex", "initech", policy.Quarantine}, c.tenants(t))
	for tenant := range demoKeys {
		for _, sig := range signals {
			content := strings.Join(c.lines(t, tenant, sig), "\n")
			for other := range demoKeys {
				for _, tr := range []string{"http", "grpc"} {
					marker := fmt.Sprintf("m-%s-%s-%s", other, tr, sig)
					if other == tenant {
						assert.Contains(t, content, marker)
					} else {
						assert.NotContains(t, content, marker, "%s's record in %s's %s", other, tenant, sig)
					}
				}
			}
			assert.NotContains(t, content, "m-spoof", "a spoofed record reached %s", tenant)
			assert.Contains(t, content, `"tenant.fingerprint"`)
		}
	}
	for _, sig := range signals {
		q := strings.Join(c.lines(t, policy.Quarantine, sig), "\n")
		assert.True(t, containsAll(q, "m-spoof-"+sig, `"tenant.quarantine.reason"`, `"spoofed"`, `"tenant.claimed"`, `"globex"`), "quarantine %s:\n%s", sig, q)
		assert.NotContains(t, q, "m-acme-", "accepted records do not land in quarantine")
	}
	// Refused requests left nothing anywhere.
	assert.NotContains(t, all(), "m-unknown")
	assert.NotContains(t, all(), "m-nokey")
	// And no key ever reached the collector's log.
	for _, key := range append([]string{"not-a-tenant-key-00000001"}, demoKeys["acme"]) {
		assert.NotContains(t, c.stderr.String(), key)
	}
}

func TestEndToEndHotReload(t *testing.T) {
	base := readRepoFile(t, "config/tenants.yaml")
	c := startCollector(t, base)
	hooliKey := "hooli-demo-key-000000001"
	hash, err := policy.HashAPIKey(hooliKey)
	require.NoError(t, err)

	require.Equal(t, http.StatusUnauthorized, c.postHTTP(t, "logs", newPayload("m-hooli-early", ""), map[string]string{"X-API-Key": hooliKey}))

	// A new tenant in the file: its key works within 5 s.
	added := base + "  hooli:\n    identifiers: [hooli]\n    api_keys: [\"" + hash + "\"]\n"
	require.NoError(t, os.WriteFile(c.policy, []byte(added), 0o600))
	start := time.Now()
	waitFor(t, "the new tenant's key to be accepted", 5*time.Second, func() bool {
		return c.postHTTP(t, "logs", newPayload("m-hooli-1", ""), map[string]string{"X-API-Key": hooliKey}) == http.StatusOK
	})
	t.Logf("new tenant accepted %s after the policy file changed", time.Since(start).Round(time.Millisecond))
	waitFor(t, "hooli's record", 10*time.Second, func() bool {
		return strings.Contains(strings.Join(c.lines(t, "hooli", "logs"), ""), "m-hooli-1")
	})

	// A broken file: the collector says so and keeps the last good policy.
	require.NoError(t, os.WriteFile(c.policy, []byte(added+"  bad tenant: {}\n"), 0o600))
	waitFor(t, "the refusal in the collector log", 5*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), "Tenant policy change refused")
	})
	assert.Contains(t, c.stderr.String(), "tenants.bad tenant: tenant id may only hold")
	assert.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("m-hooli-2", ""), map[string]string{"X-API-Key": hooliKey}))
	assert.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("m-acme-2", ""), map[string]string{"X-API-Key": demoKeys["acme"]}))

	// Removing the tenant again revokes its key.
	require.NoError(t, os.WriteFile(c.policy, []byte(base), 0o600))
	waitFor(t, "the removed tenant's key to be refused", 5*time.Second, func() bool {
		return c.postHTTP(t, "logs", newPayload("m-hooli-3", ""), map[string]string{"X-API-Key": hooliKey}) == http.StatusUnauthorized
	})
}
