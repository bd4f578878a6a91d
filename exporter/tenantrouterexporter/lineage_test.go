package tenantrouterexporter

import (
	"strings"
	"testing"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
)

func stampLineage(attrs pcommon.Map, id string) {
	attrs.PutStr(identity.AttrLineage, identity.Lineage{ID: id, Credential: "key:0123456789ab"}.Encode())
}

// A batch stored and sent elsewhere leaves one lineage row per backend in
// the tenant's store: the store's own, and the other backend's with its
// name and delivery time; the other backend receives the lineage id, a
// remote write backend never (it would be a label on every request).
func TestLineageOfDeliveries(t *testing.T) {
	otlp, otlpSrv := newCapture(t)
	prom, promSrv := newCapture(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
		"remote": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: otlpSrv.URL}, Retry: fastRetry()},
		"prom":   {Type: TypeRemoteWrite, ClientConfig: confighttp.ClientConfig{Endpoint: promSrv.URL + "/api/v1/push"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("cc", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [store, remote], metrics: [prom]}}\n")

	ld := logsFor([2]string{"acme", "one"}, [2]string{"acme", "two"})
	for _, rl := range ld.ResourceLogs().All() {
		stampLineage(rl.Resource().Attributes(), "req-1")
	}
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	md := metricsFor("acme")
	stampLineage(md.ResourceMetrics().At(0).Resource().Attributes(), "req-2")
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))

	store := e.r.backends["store"].(*localstoreBackend).store
	lineage := func() [][]any {
		res, err := store.Query(t.Context(), "acme", `SELECT lineage_id, signal, backend, records, first_id IS NOT NULL, delivered_unix_nano > 0 FROM lineage ORDER BY lineage_id, backend`, localstore.QueryOptions{}, "v1")
		if err != nil { // the tenant's database is still being created
			return nil
		}
		return res.Rows
	}
	eventually(t, "three lineage rows", func() bool { return otlp.n() == 1 && prom.n() == 1 && len(lineage()) == 3 })
	assert.Equal(t, [][]any{
		{"req-1", "logs", "", int64(2), int64(1), int64(1)},
		{"req-1", "logs", "remote", int64(2), int64(0), int64(1)},
		{"req-2", "metrics", "prom", int64(1), int64(0), int64(1)},
	}, lineage())
	_, err := store.VerifyAudit("acme")
	require.NoError(t, err)

	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(otlp.body[0]))
	v, ok := req.Logs().ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrLineage)
	require.True(t, ok, "an OTLP backend receives the lineage")
	assert.Equal(t, "req-1", identity.LineageIDOf(v.Str()))

	raw, err := snappy.Decode(nil, prom.body[0])
	require.NoError(t, err)
	var wr prompb.WriteRequest
	require.NoError(t, wr.Unmarshal(raw))
	for _, ts := range wr.Timeseries {
		for _, l := range ts.Labels {
			assert.NotContains(t, l.Name, "lineage", "no lineage label in remote write")
		}
	}
	// The batch the other queues share was not changed.
	_, ok = md.ResourceMetrics().At(0).Resource().Attributes().Get(identity.AttrLineage)
	assert.True(t, ok)
}

// A Loki line carries its request's lineage id, not the request's facts:
// structured metadata is per line.
func TestLineageToLoki(t *testing.T) {
	c, srv := newCapture(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"logs":  {Type: TypeLoki, ClientConfig: confighttp.ClientConfig{Endpoint: srv.URL + "/loki/api/v1/push"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("dd", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [logs]}}\n")
	ld := logsFor([2]string{"acme", "one"})
	stampLineage(ld.ResourceLogs().At(0).Resource().Attributes(), "req-1")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	eventually(t, "one push", func() bool { return c.n() == 1 })
	raw, err := snappy.Decode(nil, c.body[0])
	require.NoError(t, err)
	var pr push.PushRequest
	require.NoError(t, pr.Unmarshal(raw))
	meta := map[string]string{}
	for _, m := range pr.Streams[0].Entries[0].StructuredMetadata {
		meta[m.Name] = m.Value
	}
	assert.Equal(t, "req-1", meta["tenant_lineage_id"])
	_, whole := meta["tenant_lineage"]
	assert.False(t, whole, "not the request's facts on every line")
}
