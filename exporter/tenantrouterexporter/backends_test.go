package tenantrouterexporter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// capture is a test backend that keeps each request's headers and body.
type capture struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newCapture(t *testing.T) (*capture, *httptest.Server) {
	c := &capture{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, r)
		c.body = append(c.body, b)
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(s.Close)
	return c, s
}

func (c *capture) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.reqs)
}

func metricsFor(tenants ...string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, tn := range tenants {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("tenant.id", tn)
		rm.Resource().Attributes().PutStr("service.name", "shop")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("orders")
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetIntValue(3)
		dp.SetTimestamp(1_700_000_000_000_000_000)
		dp.Attributes().PutStr("owner", tn)
	}
	return md
}

func TestRemoteWriteOneRequestPerTenant(t *testing.T) {
	c, srv := newCapture(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"prom":  {Type: TypeRemoteWrite, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL + "/api/v1/push"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("aa", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {metrics: [prom], logs: [prom]}}\n  globex: {backends: {metrics: [prom]}}\n")
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), metricsFor("acme", "globex", "acme")))
	eventually(t, "two requests", func() bool { return c.n() == 2 })
	seen := map[string]bool{}
	for i, r := range c.reqs {
		assert.Equal(t, "/api/v1/push", r.URL.Path)
		assert.Equal(t, "snappy", r.Header.Get("Content-Encoding"))
		tenant := r.Header.Get("X-Scope-OrgID")
		seen[tenant] = true
		raw, err := snappy.Decode(nil, c.body[i])
		require.NoError(t, err)
		var wr prompb.WriteRequest
		require.NoError(t, wr.Unmarshal(raw))
		require.NotEmpty(t, wr.Timeseries)
		for _, ts := range wr.Timeseries {
			for _, l := range ts.Labels {
				if l.Name == "owner" {
					assert.Equal(t, tenant, l.Value, "a series of another tenant in %s's request", tenant)
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"acme": true, "globex": true}, seen)
	eventually(t, "sent counts", func() bool { return e.stats("acme", "prom").sent[1].Load() == 2 })

	// A policy sending logs to a remote write backend: counted, and the
	// logs still land in the default store.
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "l"})))
	assert.Equal(t, int64(1), e.stats("acme", "prom").failed[0][reasonIndex(reasonUnsupportedSignal)].Load())
	eventually(t, "the log in the store", func() bool { return e.stats("acme", "store").sent[0].Load() == 1 })
}

func TestLokiStreamsAndMetadata(t *testing.T) {
	c, srv := newCapture(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"logs":  {Type: TypeLoki, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL + "/insert/loki/api/v1/push"}, TenantHeader: "AccountID", StreamLabels: []string{"service.name", "deployment.environment"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("bb", 32))
	e := startRouter(t, cfg, "tenants:\n  '42': {backends: {logs: [logs]}}\n  '7': {backends: {logs: [logs]}}\n")
	ld := logsFor([2]string{"42", "m42"}, [2]string{"7", "m7"})
	rl := ld.ResourceLogs().At(0)
	rl.Resource().Attributes().PutStr("service.name", "shop")
	rl.Resource().Attributes().PutStr("deployment.environment", "prod")
	rl.Resource().Attributes().PutStr("host.name", "h1")
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	lr.Attributes().PutStr("http.method", "GET")
	lr.SetSeverityText("INFO")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	eventually(t, "two pushes", func() bool { return c.n() == 2 })
	for i, r := range c.reqs {
		tenant := r.Header.Get("AccountID")
		assert.Empty(t, r.Header.Get("X-Scope-OrgID"))
		raw, err := snappy.Decode(nil, c.body[i])
		require.NoError(t, err)
		var pr push.PushRequest
		require.NoError(t, pr.Unmarshal(raw))
		require.Len(t, pr.Streams, 1)
		st := pr.Streams[0]
		require.Len(t, st.Entries, 1)
		assert.Equal(t, "m"+tenant, st.Entries[0].Line)
		meta := map[string]string{}
		for _, m := range st.Entries[0].StructuredMetadata {
			meta[m.Name] = m.Value
		}
		assert.Equal(t, tenant, meta["tenant_id"])
		if tenant == "42" {
			assert.Equal(t, `{deployment_environment="prod", service_name="shop"}`, st.Labels)
			assert.Equal(t, "h1", meta["host_name"])
			assert.Equal(t, "GET", meta["http_method"])
			assert.Equal(t, "INFO", meta["severity_text"])
		} else {
			assert.Equal(t, `{service_name="unknown_service"}`, st.Labels)
		}
	}
}

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{"service.name": "service_name", "9lives": "_lives", "ok_1": "ok_1", "": "_", "k8s.pod.name": "k8s_pod_name"} {
		assert.Equal(t, want, labelName(in), in)
	}
}

// TestRemoteWritePartialTranslationIsCounted: metrics the translator
// cannot carry (a delta sum, a gauge without points) are counted by
// reason while the rest of the batch is sent; a batch with nothing
// translatable is refused for good and counted too.
func TestRemoteWritePartialTranslationIsCounted(t *testing.T) {
	c, srv := newCapture(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"prom":  {Type: TypeRemoteWrite, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL + "/api/v1/push"}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"metrics": {"prom"}}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("ab", 32))
	e := startRouter(t, cfg, "tenants: {acme: {}}\n")

	md := metricsFor("acme")
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	delta := ms.AppendEmpty()
	delta.SetName("delta_orders")
	ds := delta.SetEmptySum()
	ds.SetIsMonotonic(true)
	ds.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	ds.DataPoints().AppendEmpty().SetIntValue(1)
	ms.AppendEmpty().SetName("no_points")
	ms.At(ms.Len() - 1).SetEmptyGauge()
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	st := e.stats("acme", "prom")
	eventually(t, "the translatable part sent", func() bool { return st.sent[1].Load() > 0 })
	require.Equal(t, 1, c.n())
	raw, err := snappy.Decode(nil, c.body[0])
	require.NoError(t, err)
	var wr prompb.WriteRequest
	require.NoError(t, wr.Unmarshal(raw))
	require.NotEmpty(t, wr.Timeseries)
	assert.EqualValues(t, 1, st.untranslated[0].Load(), "invalid_temporality")
	assert.EqualValues(t, 1, st.untranslated[1].Load(), "empty_data_points")

	only := pmetric.NewMetrics()
	rm := only.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("tenant.id", "acme")
	delta.CopyTo(rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty())
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), only))
	eventually(t, "the untranslatable batch refused", func() bool { return st.failed[1][reasonIndex(reasonPermanent)].Load() == 1 })
	assert.EqualValues(t, 2, st.untranslated[0].Load())
	assert.Equal(t, 1, c.n(), "nothing sent for it")
}
