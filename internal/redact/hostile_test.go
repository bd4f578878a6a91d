package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
)

const foreign = "<redacted:foreign_tenant>"

func acmeLog() (plog.Logs, plog.LogRecord) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	return ld, lr
}

// TestTenantKeysAreNotTrustedByName: only the pipeline's own tenant.* keys
// are skipped; a client's tenant.* key that reached the redactor (the tenant
// processor removes them, this is the second line) is scanned like any
// other, at record, span, event and link level.
func TestTenantKeysAreNotTrustedByName(t *testing.T) {
	r := testRedactor(t)
	ld, lr := acmeLog()
	lr.Attributes().PutStr("tenant.redaction.note", "globex ak_globex_999")
	lr.Attributes().PutStr("tenant.fingerprintx", "bob@globex.example")
	r.Logs(ld)
	for _, k := range []string{"tenant.redaction.note", "tenant.fingerprintx"} {
		v, ok := lr.Attributes().Get(k)
		if ok {
			assert.NotContains(t, v.Str(), "globex", k)
		}
	}

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.Attributes().PutStr("tenant.note", "globex.example")
	sp.Events().AppendEmpty().Attributes().PutStr("tenant.note", "globex.example")
	sp.Links().AppendEmpty().Attributes().PutStr("tenant.note", "globex.example")
	r.Traces(td)
	for where, m := range map[string]pcommon.Map{"span": sp.Attributes(), "event": sp.Events().At(0).Attributes(), "link": sp.Links().At(0).Attributes()} {
		v, ok := m.Get("tenant.note")
		if ok {
			assert.Equal(t, foreign, v.Str(), where)
		}
	}
}

// TestPipelineEvidenceIsNotRedacted: a quarantined resource's claim and
// attribution are the forensic record of a spoof; redaction leaves them.
func TestPipelineEvidenceIsNotRedacted(t *testing.T) {
	r := testRedactor(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr(identity.AttrTenantID, "_quarantine")
	res.PutStr(identity.AttrQuarantineReason, "spoofed")
	res.PutStr(identity.AttrClaimed, "globex")
	res.PutStr(identity.AttrAuthenticated, "acme")
	res.PutStr(identity.AttrCredential, "key:0123456789ab")
	res.PutStr(identity.AttrSource, "tenantgateway 127.0.0.1:5000")
	res.PutStr("service.name", "globex-shop")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("globex")
	r.Logs(ld)
	raw := res.AsRaw()
	assert.Equal(t, "globex", raw[identity.AttrClaimed])
	assert.Equal(t, "acme", raw[identity.AttrAuthenticated])
	assert.Equal(t, "key:0123456789ab", raw[identity.AttrCredential])
	assert.Equal(t, "tenantgateway 127.0.0.1:5000", raw[identity.AttrSource])
	assert.NotContains(t, raw["service.name"], "globex", "everything but the evidence is still scanned")
}

// TestBytesValuesAreScanned: a bytesValue that is valid UTF-8 is text, in
// attributes, nested maps, slices and bodies; other bytes are left alone.
func TestBytesValuesAreScanned(t *testing.T) {
	r := testRedactor(t)
	ld, lr := acmeLog()
	lr.Attributes().PutEmptyBytes("b").FromRaw([]byte("mail bob@globex.example"))
	lr.Attributes().PutEmptyMap("m").PutEmptyBytes("b").FromRaw([]byte("ak_globex_999"))
	lr.Attributes().PutEmptySlice("s").AppendEmpty().SetEmptyBytes().FromRaw([]byte("globex.example"))
	lr.Attributes().PutEmptyBytes("bin").FromRaw([]byte{0xff, 0xfe, 'g', 'l', 'o', 'b', 'e', 'x'})
	lr.Body().SetEmptyBytes().FromRaw([]byte("to globex"))
	r.Logs(ld)
	get := func(v pcommon.Value) string { return string(v.Bytes().AsRaw()) }
	b, _ := lr.Attributes().Get("b")
	assert.Equal(t, "mail "+foreign, get(b))
	m, _ := lr.Attributes().Get("m")
	mb, _ := m.Map().Get("b")
	assert.Equal(t, pcommon.ValueTypeBytes, mb.Type())
	assert.Equal(t, foreign, get(mb))
	s, _ := lr.Attributes().Get("s")
	assert.Equal(t, foreign, get(s.Slice().At(0)))
	assert.Equal(t, "to "+foreign, get(lr.Body()))
	bin, _ := lr.Attributes().Get("bin")
	assert.Equal(t, []byte{0xff, 0xfe, 'g', 'l', 'o', 'b', 'e', 'x'}, bin.Bytes().AsRaw(), "binary bytes are not text")
	_, ok := lr.Attributes().Get(AttrClasses)
	require.True(t, ok, "the record carries its classes")
	cnt, ok := ld.ResourceLogs().At(0).Resource().Attributes().Get(AttrCount)
	require.True(t, ok)
	assert.GreaterOrEqual(t, cnt.Int(), int64(4), "each of the four text bytes values counted")
}

// TestRepeatedTenantIDOwnsNothing: a resource with tenant.id twice has no
// owner, so every tenant's identifiers are foreign in it, including the
// ones of the tenant either copy names.
func TestRepeatedTenantIDOwnsNothing(t *testing.T) {
	r := testRedactor(t)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.id","value":{"stringValue":"globex"}},{"key":"tenant.id","value":{"stringValue":"acme"}}]},` +
		`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"acme.example globex.example"}}]}]}]}`))
	require.NoError(t, err)
	r.Logs(ld)
	body := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
	assert.Equal(t, foreign+" "+foreign, body)
}

// TestEveryClientStringIsScanned: the strings beside the attributes —
// scope name and version, severity text, event name, metric name,
// description and unit, trace state — are a client's text too.
func TestEveryClientStringIsScanned(t *testing.T) {
	r := testRedactor(t)
	ld, lr := acmeLog()
	sc := ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope()
	sc.SetName("globex-lib")
	sc.SetVersion("globex.example/1")
	lr.SetSeverityText("globex")
	lr.SetEventName("globex.example.signup")
	r.Logs(ld)
	for name, got := range map[string]string{"scope name": sc.Name(), "scope version": sc.Version(),
		"severity text": lr.SeverityText(), "event name": lr.EventName()} {
		assert.Contains(t, got, foreign, name)
		assert.NotContains(t, got, "globex", name)
	}

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("globex_orders_total")
	m.SetDescription("orders of ak_globex_1")
	m.SetUnit("{globex}")
	m.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(1)
	r.Metrics(md)
	for name, got := range map[string]string{"metric name": m.Name(), "description": m.Description(), "unit": m.Unit()} {
		assert.NotContains(t, got, "globex", name)
	}
	_, ok := m.Sum().DataPoints().At(0).Attributes().Get(AttrClasses)
	require.True(t, ok, "a renamed metric is audited on its point")
	cnt, ok := rm.Resource().Attributes().Get(AttrCount)
	require.True(t, ok, "a renamed metric is counted")
	assert.GreaterOrEqual(t, cnt.Int(), int64(3))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.TraceState().FromRaw("vendor=globex")
	l := sp.Links().AppendEmpty()
	l.TraceState().FromRaw("vendor=ak_globex_2")
	r.Traces(td)
	assert.NotContains(t, sp.TraceState().AsRaw(), "globex")
	assert.NotContains(t, l.TraceState().AsRaw(), "globex")
}
