package tenantprocessor

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// acmeCtx is a request authenticated by one of acme's API keys, from a
// known receiver and address.
func acmeCtx() context.Context {
	return client.NewContext(context.Background(), client.Info{
		Addr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 40000},
		Auth: identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey,
			Credential: identity.KeyID("acme-key"), Receiver: "tenantgateway"},
	})
}

// A client attribute list with a key repeated, in every order: OTLP's wire
// format allows it and pdata keeps every copy.
var repeatedTenantIDs = [][2]string{{"globex", "acme"}, {"acme", "globex"}, {"acme", "acme"}}

func resourceJSON(ids [2]string) string {
	return `{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}},` +
		`{"key":"tenant.id","value":{"stringValue":"` + ids[0] + `"}},` +
		`{"key":"tenant.id","value":{"stringValue":"` + ids[1] + `"}}]}`
}

func newProcessors(t *testing.T) (*consumertest.LogsSink, *consumertest.MetricsSink, *consumertest.TracesSink, func(plog.Logs), func(pmetric.Metrics), func(ptrace.Traces)) {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	set := processortest.NewNopSettings(metadata.Type)
	ls, ms, ts := new(consumertest.LogsSink), new(consumertest.MetricsSink), new(consumertest.TracesSink)
	lp, err := NewFactory().CreateLogs(context.Background(), set, cfg, ls)
	require.NoError(t, err)
	mp, err := NewFactory().CreateMetrics(context.Background(), set, cfg, ms)
	require.NoError(t, err)
	tp, err := NewFactory().CreateTraces(context.Background(), set, cfg, ts)
	require.NoError(t, err)
	host := newHost(t, loadTestPolicy(t))
	require.NoError(t, lp.Start(context.Background(), host))
	require.NoError(t, mp.Start(context.Background(), host))
	require.NoError(t, tp.Start(context.Background(), host))
	return ls, ms, ts,
		func(ld plog.Logs) { require.NoError(t, lp.ConsumeLogs(acmeCtx(), ld)) },
		func(md pmetric.Metrics) { require.NoError(t, mp.ConsumeMetrics(acmeCtx(), md)) },
		func(td ptrace.Traces) { require.NoError(t, tp.ConsumeTraces(acmeCtx(), td)) }
}

// checkQuarantinedOnce asserts the resource holds exactly one tenant.id, the
// quarantine, with reason malformed and the sender attributed.
func checkQuarantinedOnce(t *testing.T, attrs pcommon.Map, ids [2]string) {
	t.Helper()
	id, reason := identity.TenantOf(attrs)
	require.Empty(t, reason, "after the tenant processor a resource holds exactly one tenant.id: %v", attrs.AsRaw())
	assert.Equal(t, "_quarantine", id)
	raw := attrs.AsRaw()
	assert.Equal(t, "malformed", raw[identity.AttrQuarantineReason])
	assert.Equal(t, ids[0]+","+ids[1], raw[identity.AttrClaimed])
	assert.Equal(t, "acme", raw[identity.AttrAuthenticated])
	assert.Equal(t, identity.KeyID("acme-key"), raw[identity.AttrCredential])
	assert.Equal(t, "tenantgateway 192.0.2.7:40000", raw[identity.AttrSource])
	assert.NotContains(t, raw[identity.AttrCredential], "acme-key", "the key itself is never written")
}

// TestRepeatedTenantIDIsMalformed: whichever copy a reader would pick, a
// resource with tenant.id twice never becomes either tenant's, for every
// signal; it is quarantined as malformed and attributed to its sender.
func TestRepeatedTenantIDIsMalformed(t *testing.T) {
	for _, ids := range repeatedTenantIDs {
		t.Run(ids[0]+"_"+ids[1], func(t *testing.T) {
			ls, ms, ts, logs, metrics, traces := newProcessors(t)
			ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":` + resourceJSON(ids) +
				`,"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}]}`))
			require.NoError(t, err)
			logs(ld)
			checkQuarantinedOnce(t, ls.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes(), ids)

			md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(`{"resourceMetrics":[{"resource":` + resourceJSON(ids) +
				`,"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1"}]}}]}]}]}`))
			require.NoError(t, err)
			metrics(md)
			checkQuarantinedOnce(t, ms.AllMetrics()[0].ResourceMetrics().At(0).Resource().Attributes(), ids)

			td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(`{"resourceSpans":[{"resource":` + resourceJSON(ids) +
				`,"scopeSpans":[{"spans":[{"traceId":"01020300000000000000000000000000","spanId":"0100000000000000","name":"s"}]}]}]}`))
			require.NoError(t, err)
			traces(td)
			checkQuarantinedOnce(t, ts.AllTraces()[0].ResourceSpans().At(0).Resource().Attributes(), ids)
		})
	}
}

// clientTenantKeys writes tenant.* keys, flat and nested, into m.
func clientTenantKeys(m pcommon.Map) {
	m.PutStr("tenant.redaction.note", "globex ak_globex_999")
	m.PutInt("tenant.redaction.count", 0)
	m.PutInt("tenant.redaction.records", 0)
	m.PutEmptySlice("tenant.redaction.classes").AppendEmpty().SetStr("forged")
	m.PutStr("tenant.redaction.policy_version", "forged")
	m.PutStr("tenant.id", "globex")
	m.PutStr("keep", "me")
	nested := m.PutEmptyMap("nested")
	nested.PutStr("tenant.claimed", "globex")
	nested.PutEmptySlice("list").AppendEmpty().SetEmptyMap().PutStr("tenant.fingerprint", "forged")
}

// noTenantKeys fails if any key under tenant. is left in m, at any depth,
// or if the client's other keys went with them.
func noTenantKeys(t *testing.T, where string, m pcommon.Map) {
	t.Helper()
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if strings.HasPrefix(k, "tenant.") {
					t.Errorf("%s: client key %s%s survived", where, path, k)
				}
				walk(x, path+k+".")
			}
		case []any:
			for _, x := range v {
				walk(x, path)
			}
		}
	}
	walk(m.AsRaw(), "")
	if v, ok := m.Get("keep"); !ok || v.Str() != "me" {
		t.Errorf("%s: the client's own attribute was lost", where)
	}
}

// TestClientTenantKeysRemovedAtEveryLevel: below the resource only the
// pipeline writes tenant.*; a client's keys there are removed at every level
// of every signal, nested maps included.
func TestClientTenantKeysRemovedAtEveryLevel(t *testing.T) {
	ls, ms, ts, logs, metrics, traces := newProcessors(t)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	clientTenantKeys(rl.Resource().Attributes())
	sl := rl.ScopeLogs().AppendEmpty()
	clientTenantKeys(sl.Scope().Attributes())
	clientTenantKeys(sl.LogRecords().AppendEmpty().Attributes())
	logs(ld)
	out := ls.AllLogs()[0].ResourceLogs().At(0)
	noTenantKeysBelow(t, out.Resource().Attributes())
	noTenantKeys(t, "scope", out.ScopeLogs().At(0).Scope().Attributes())
	noTenantKeys(t, "log record", out.ScopeLogs().At(0).LogRecords().At(0).Attributes())

	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	sp := ss.Spans().AppendEmpty()
	clientTenantKeys(sp.Attributes())
	clientTenantKeys(sp.Events().AppendEmpty().Attributes())
	clientTenantKeys(sp.Links().AppendEmpty().Attributes())
	traces(td)
	osp := ts.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	noTenantKeys(t, "span", osp.Attributes())
	noTenantKeys(t, "event", osp.Events().At(0).Attributes())
	noTenantKeys(t, "link", osp.Links().At(0).Attributes())

	md := pmetric.NewMetrics()
	ms0 := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	g := ms0.AppendEmpty()
	g.SetName("g")
	clientTenantKeys(g.Metadata())
	gdp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	clientTenantKeys(gdp.Attributes())
	clientTenantKeys(gdp.Exemplars().AppendEmpty().FilteredAttributes())
	clientTenantKeys(ms0.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().Attributes())
	clientTenantKeys(ms0.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Attributes())
	clientTenantKeys(ms0.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes())
	clientTenantKeys(ms0.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes())
	metrics(md)
	oms := ms.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	noTenantKeys(t, "metric metadata", oms.At(0).Metadata())
	noTenantKeys(t, "gauge point", oms.At(0).Gauge().DataPoints().At(0).Attributes())
	noTenantKeys(t, "exemplar", oms.At(0).Gauge().DataPoints().At(0).Exemplars().At(0).FilteredAttributes())
	noTenantKeys(t, "sum point", oms.At(1).Sum().DataPoints().At(0).Attributes())
	noTenantKeys(t, "histogram point", oms.At(2).Histogram().DataPoints().At(0).Attributes())
	noTenantKeys(t, "exponential histogram point", oms.At(3).ExponentialHistogram().DataPoints().At(0).Attributes())
	noTenantKeys(t, "summary point", oms.At(4).Summary().DataPoints().At(0).Attributes())
}

// noTenantKeysBelow checks a resource: its top level holds only the
// pipeline's keys, and nothing nested holds a tenant. key.
func noTenantKeysBelow(t *testing.T, res pcommon.Map) {
	t.Helper()
	for k := range res.All() {
		// The redactor's audit keys are pipeline keys, but not this
		// processor's: on its output they can only be the client's.
		if strings.HasPrefix(k, "tenant.") && (!identity.PipelineKey(k) || strings.HasPrefix(k, "tenant.redaction.")) {
			t.Errorf("resource: client key %s survived", k)
		}
	}
	nested, _ := res.Get("nested")
	for k := range nested.Map().All() {
		if strings.HasPrefix(k, "tenant.") {
			t.Errorf("resource: nested client key %s survived", k)
		}
	}
}
