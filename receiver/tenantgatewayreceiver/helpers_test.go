package tenantgatewayreceiver

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

// testReceiverName names the test gateway: "tenantgateway/edge".
const testReceiverName = "edge"

// Test tenants and their keys.
const (
	keyAcme   = "acme-gateway-test-key-00001"
	keyGlobex = "globex-gateway-test-key-0001"
)

// policyWith returns a policy file for acme and globex with the keys above
// and limitsYAML (a "limits:" block body, indented for a tenant) for both.
func policyWith(t testing.TB, acmeLimits, globexLimits string) string {
	t.Helper()
	ha, err := policy.HashAPIKey(keyAcme)
	require.NoError(t, err)
	hg, err := policy.HashAPIKey(keyGlobex)
	require.NoError(t, err)
	return fmt.Sprintf(`tenants:
  acme:
    identifiers: [acme]
    api_keys: [%q]
    limits:
%s
  globex:
    identifiers: [globex]
    api_keys: [%q]
    limits:
%s
`, ha, indent(acmeLimits), hg, indent(globexLimits))
}

func indent(s string) string {
	if strings.TrimSpace(s) == "" {
		return "      max_concurrent_requests: 64"
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		b.WriteString("      " + strings.TrimSpace(l) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// received is what reached the pipeline, with the tenant of its context.
type received struct {
	tenant  string
	auth    identity.AuthData
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
}

type sink struct {
	mu  sync.Mutex
	got []received
	err error // returned by every consume when set
}

func (s *sink) add(ctx context.Context, r received) error {
	r.tenant, _, _ = identity.FromContext(ctx)
	r.auth, _ = identity.AuthFromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r)
	return s.err
}

func (s *sink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// testGateway is a gateway started in-process behind the real tenantpolicy
// authenticator.
type testGateway struct {
	url  string
	sink *sink
	g    *gateway
}

// startGateway starts the receiver for all three signals on a loopback
// port, with auth through the tenantpolicy extension on policyYAML.
func startGateway(t testing.TB, policyYAML string, mutate ...func(*Config)) *testGateway {
	t.Helper()
	return startGatewayWithMeter(t, policyYAML, nil, mutate...)
}

// startGatewayWithMeter is startGateway with the self-metrics on mp.
func startGatewayWithMeter(t testing.TB, policyYAML string, mp metric.MeterProvider, mutate ...func(*Config)) *testGateway {
	t.Helper()
	host, extID := startPolicyHost(t, policyYAML)
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: extID}})
	for _, m := range mutate {
		m(cfg)
	}
	s := &sink{}
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewIDWithName(metadata.Type, testReceiverName)
	if mp != nil {
		set.MeterProvider = mp
	}
	f := NewFactory()
	lr, err := f.CreateLogs(context.Background(), set, cfg, consumer.Logs(must(consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		return s.add(ctx, received{logs: ld})
	}))))
	require.NoError(t, err)
	mr, err := f.CreateMetrics(context.Background(), set, cfg, must(consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		return s.add(ctx, received{metrics: md})
	})))
	require.NoError(t, err)
	tr, err := f.CreateTraces(context.Background(), set, cfg, must(consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
		return s.add(ctx, received{traces: td})
	})))
	require.NoError(t, err)
	for _, c := range []component.Component{lr, mr, tr} {
		require.NoError(t, c.Start(context.Background(), host))
	}
	t.Cleanup(func() {
		for _, c := range []component.Component{lr, mr, tr} {
			require.NoError(t, c.Shutdown(context.Background()))
		}
	})
	g := unwrap(lr)
	return &testGateway{url: "http://" + g.addr.String(), sink: s, g: g}
}

// startPolicyHost starts the real tenantpolicy extension on policyYAML and
// returns a host that serves it.
func startPolicyHost(t testing.TB, policyYAML string) (extHost, component.ID) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policyYAML), 0o600))

	extID := component.MustNewID("tenantpolicy")
	ef := tenantpolicyextension.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*tenantpolicyextension.Config)
	ecfg.Path = path
	ext, err := ef.Create(context.Background(), extensiontest.NewNopSettings(ef.Type()), ecfg)
	require.NoError(t, err)
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{extID: ext}}
	require.NoError(t, ext.Start(context.Background(), host))
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return host, extID
}

type extHost struct {
	component.Host
	exts map[component.ID]component.Component
}

func (h extHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// response is what a test request got back.
type response struct {
	status     int
	body       string
	retryAfter string
	latency    time.Duration
}

var testClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// post sends body to path with the given key ("" for none) and headers
// (pairs of name, value).
func (tg *testGateway) post(t testing.TB, path, key string, body []byte, headers ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tg.url+path, bytes.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	start := time.Now()
	resp, err := testClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, body: string(b), retryAfter: resp.Header.Get("Retry-After"), latency: time.Since(start)}
}

// blockingLogs holds each request in the pipeline until release closes.
type blockingLogs struct {
	next    consumer.Logs
	held    *atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b blockingLogs) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (b blockingLogs) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if b.held.CompareAndSwap(false, true) {
		b.entered <- struct{}{}
		<-b.release
	}
	return b.next.ConsumeLogs(ctx, ld)
}

// unwrap is the gateway behind a receiver the factory created.
func unwrap(c component.Component) *gateway {
	return c.(*sharedcomponent.Component[*gateway]).Unwrap()
}
