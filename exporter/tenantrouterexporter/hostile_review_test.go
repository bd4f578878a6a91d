package tenantrouterexporter

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// A reload: the router of the old config runs until the last of its
// exporters shuts down, then refuses what a draining pipeline still hands
// it (an error and a count, nothing sent); the new config's exporters get
// a router of their own, even from the same *Config, under the new policy,
// so a tenant the reload removed is quarantined, never delivered as
// itself by a stale router.
func TestReloadLeavesNoStaleRouter(t *testing.T) {
	srv := newOTLPServer(t, func(int, http.ResponseWriter, *http.Request) {})
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL}, Retry: fastRetry()}}
	otlpOnly(cfg, "remote")
	f := NewFactory()
	set := exportertest.NewNopSettings(f.Type())
	ctx := t.Context()

	l, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	m, err := f.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	before := hostWith(t, "tenants: {acme: {}, globex: {}}\n", nil)
	require.NoError(t, l.Start(ctx, before))
	require.NoError(t, m.Start(ctx, before))
	old := routerOf(t, cfg)

	require.NoError(t, l.Shutdown(ctx))
	require.NoError(t, l.ConsumeLogs(ctx, logsFor([2]string{"globex", "draining"})), "the router runs while its metrics exporter does")
	require.NoError(t, m.Shutdown(ctx))
	err = l.ConsumeLogs(ctx, logsFor([2]string{"globex", "late"}))
	require.Error(t, err, "a stopped router refuses")
	assert.EqualValues(t, 1, old.tel.of("globex", "remote").failed[0][reasonIndex(reasonShutdown)].Load(), "and counts it")

	// The same *Config again, and a policy without globex.
	l2, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	after := hostWith(t, "tenants: {acme: {}}\n", nil)
	require.NoError(t, l2.Start(ctx, after))
	t.Cleanup(func() { assert.NoError(t, l2.Shutdown(context.Background())) })
	fresh := routerOf(t, cfg)
	require.NotSame(t, old, fresh, "a new router, not the stopped one")
	require.NoError(t, l2.ConsumeLogs(ctx, logsFor([2]string{"globex", "removed"}, [2]string{"acme", "kept"})))

	eventually(t, "three requests", func() bool { return len(srv.requests()) == 3 })
	time.Sleep(100 * time.Millisecond)
	got := map[string][]string{}
	for _, rq := range srv.requests() {
		got[rq.tenant] = append(got[rq.tenant], rq.markers...)
		for _, id := range rq.tenants {
			assert.Equal(t, rq.tenant, id, "a request holds its tenant's resources only")
		}
	}
	assert.Equal(t, map[string][]string{"globex": {"draining"}, policy.Quarantine: {"removed"}, "acme": {"kept"}}, got)
}

// Two configs live at once (a reload that overlaps the old one's drain, or
// two router ids): each has its own router, policy and queues.
func TestTwoConfigsTwoRouters(t *testing.T) {
	srv := newOTLPServer(t, func(int, http.ResponseWriter, *http.Request) {})
	mk := func() *Config {
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL}, Retry: fastRetry()}}
		otlpOnly(cfg, "remote")
		return cfg
	}
	a, b := mk(), mk()
	f := NewFactory()
	ctx := t.Context()
	start := func(cfg *Config, pol string) exporter.Logs {
		l, err := f.CreateLogs(ctx, exportertest.NewNopSettings(f.Type()), cfg)
		require.NoError(t, err)
		require.NoError(t, l.Start(ctx, hostWith(t, pol, nil)))
		t.Cleanup(func() { assert.NoError(t, l.Shutdown(context.Background())) })
		return l
	}
	la := start(a, "tenants: {acme: {}, globex: {}}\n")
	lb := start(b, "tenants: {acme: {}}\n")
	require.NotSame(t, routerOf(t, a), routerOf(t, b))
	require.NoError(t, la.ConsumeLogs(ctx, logsFor([2]string{"globex", "a"})))
	require.NoError(t, lb.ConsumeLogs(ctx, logsFor([2]string{"globex", "b"})))
	eventually(t, "two requests", func() bool { return len(srv.requests()) == 2 })
	got := map[string]string{}
	for _, rq := range srv.requests() {
		got[rq.markers[0]] = rq.tenant
	}
	assert.Equal(t, map[string]string{"a": "globex", "b": policy.Quarantine}, got)
}
