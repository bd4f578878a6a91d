package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// TestSchemaURLsAreScanned: a resource's and a scope's schema URL are
// strings a client chose, stored beside every record.
func TestSchemaURLsAreScanned(t *testing.T) {
	r := testRedactor(t)
	ld, _ := acmeLog()
	rl := ld.ResourceLogs().At(0)
	rl.SetSchemaUrl("https://globex.example/schemas/1.2")
	rl.ScopeLogs().At(0).SetSchemaUrl("https://globex.example/scope")
	st := r.Logs(ld)
	assert.Equal(t, "https://"+foreign+"/schemas/1.2", rl.SchemaUrl())
	assert.Equal(t, "https://"+foreign+"/scope", rl.ScopeLogs().At(0).SchemaUrl())
	assert.Equal(t, int64(2), st.Redactions[StatKey{"acme", ClassForeignTenant}])
	cnt, ok := rl.Resource().Attributes().Get(AttrCount)
	require.True(t, ok, "schema URLs are audited on the resource")
	assert.Equal(t, int64(2), cnt.Int())

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rs.SetSchemaUrl("https://globex.example/s")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.SetSchemaUrl("https://globex.example/s")
	r.Traces(td)
	assert.NotContains(t, rs.SchemaUrl()+ss.SchemaUrl(), "globex")

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rm.SetSchemaUrl("https://globex.example/s")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.SetSchemaUrl("https://globex.example/s")
	r.Metrics(md)
	assert.NotContains(t, rm.SchemaUrl()+sm.SchemaUrl(), "globex")
}

// TestMetricMetadataIsScanned: a metric's metadata map is client text like
// its description.
func TestMetricMetadataIsScanned(t *testing.T) {
	r := testRedactor(t)
	md, m := acmeMetric("requests_total")
	m.Metadata().PutStr("help", "requests from globex.example")
	m.Metadata().PutStr("ak_globex_7", "x")
	r.Metrics(md)
	v, _ := m.Metadata().Get("help")
	assert.Equal(t, "requests from "+foreign, v.Str())
	_, ok := m.Metadata().Get("ak_globex_7")
	assert.False(t, ok, "a key naming another tenant is removed")
}

// TestRenamedMetricWithoutPointsIsCounted: remote write's __name__ becomes
// the metric name; one that holds another tenant's name is renamed with
// the redaction marker and counted even when the metric has no point to
// carry the audit (then the resource carries it), and the count is not
// left over for the next resource, another tenant's.
func TestRenamedMetricWithoutPointsIsCounted(t *testing.T) {
	r := testRedactor(t)
	md, m := acmeMetric("globex_orders_total")
	m.SetEmptyGauge()
	rm2 := md.ResourceMetrics().AppendEmpty()
	rm2.Resource().Attributes().PutStr(identity.AttrTenantID, "globex")
	rm2.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("clean_total")
	st := r.Metrics(md)
	assert.Equal(t, foreign, m.Name())
	assert.Equal(t, map[StatKey]int64{{"acme", ClassForeignTenant}: 1}, st.Redactions)
	cnt, ok := md.ResourceMetrics().At(0).Resource().Attributes().Get(AttrCount)
	require.True(t, ok, "the renamed metric's resource carries the audit")
	assert.Equal(t, int64(1), cnt.Int())
	_, ok = rm2.Resource().Attributes().Get(AttrCount)
	assert.False(t, ok, "globex's resource changed nothing")

	// With a point, the point carries its classes, the resource the count.
	md, m = acmeMetric("globex_orders_total")
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	r.Metrics(md)
	_, ok = dp.Attributes().Get(AttrClasses)
	require.True(t, ok)
	cnt, ok = md.ResourceMetrics().At(0).Resource().Attributes().Get(AttrCount)
	require.True(t, ok)
	assert.Equal(t, int64(1), cnt.Int())
	recs, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get(AttrRecords)
	assert.Equal(t, int64(1), recs.Int())
}

func acmeMetric(name string) (pmetric.Metrics, pmetric.Metric) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	return md, m
}
