package tenantgatewayreceiver

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func putN(m pcommon.Map, prefix string, n int) {
	for i := range n {
		m.PutStr(fmt.Sprintf("%s.%d", prefix, i), "v")
	}
}

// max_attributes_per_record counts every attribute a record carries: its
// resource's, its scope's and its own, and every key and element nested in
// their maps and lists; a span's events and links and a data point's
// exemplars count toward it too.
func TestAttributesAreCountedAtEveryLevel(t *testing.T) {
	const limit = 10
	logs := func(build func(res, scope, rec pcommon.Map)) payload {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		sl := rl.ScopeLogs().AppendEmpty()
		lr := sl.LogRecords().AppendEmpty()
		build(rl.Resource().Attributes(), sl.Scope().Attributes(), lr.Attributes())
		return payload{signal: signalLogs, logs: ld}
	}
	tests := []struct {
		name string
		pl   payload
		want string // "" = admitted
	}{
		{"ten at the record", logs(func(_, _, rec pcommon.Map) { putN(rec, "a", 10) }), ""},
		{"eleven at the record", logs(func(_, _, rec pcommon.Map) { putN(rec, "a", 11) }),
			"resourceLogs[0].scopeLogs[0].logRecords[0] has 11 attributes counted at every level (resource 0, scope 0, record 11)"},
		{"resource and scope add up", logs(func(res, scope, rec pcommon.Map) { putN(res, "r", 5); putN(scope, "s", 3); putN(rec, "a", 3) }),
			"has 11 attributes counted at every level (resource 5, scope 3, record 3)"},
		{"resource alone", logs(func(res, _, _ pcommon.Map) { putN(res, "r", 1000) }),
			"(resource 1000, scope 0, record 0)"},
		{"one attribute holding a map", logs(func(_, _, rec pcommon.Map) { putN(rec.PutEmptyMap("m"), "k", 1000) }),
			"has 1001 attributes counted at every level"},
		{"nested lists and maps", logs(func(_, _, rec pcommon.Map) {
			s := rec.PutEmptySlice("l")                   // 1
			s.AppendEmpty().SetStr("x")                   // 2
			putN(s.AppendEmpty().SetEmptyMap(), "k", 4)   // 3 + 4
			s.AppendEmpty().SetEmptySlice().AppendEmpty() // 8, 9
			putN(rec.PutEmptyMap("m"), "k", 1)            // 10, 11
		}), "has 11 attributes"},
		{"nested exactly at the limit", logs(func(_, _, rec pcommon.Map) { putN(rec.PutEmptyMap("m"), "k", 9) }), ""},
	}

	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	putN(span.Attributes(), "a", 4)
	putN(span.Events().AppendEmpty().Attributes(), "e", 4)
	putN(span.Links().AppendEmpty().Attributes(), "l", 3)
	tests = append(tests, struct {
		name string
		pl   payload
		want string
	}{"span events and links", payload{signal: signalTraces, traces: td}, "resourceSpans[0].scopeSpans[0].spans[0] has 11 attributes counted at every level (resource 0, scope 0, record 11)"})

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putN(rm.Resource().Attributes(), "r", 2)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("h")
	dp := m.SetEmptyHistogram().DataPoints().AppendEmpty()
	putN(dp.Attributes(), "a", 2)
	dp2 := m.Histogram().DataPoints().AppendEmpty()
	putN(dp2.Attributes(), "a", 5)
	putN(dp2.Exemplars().AppendEmpty().FilteredAttributes(), "x", 4)
	tests = append(tests, struct {
		name string
		pl   payload
		want string
	}{"data point exemplars", payload{signal: signalMetrics, metrics: md}, "resourceMetrics[0].scopeMetrics[0].metrics[0] (h) data point 1 has 11 attributes counted at every level (resource 2, scope 0, record 9)"})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			herr := checkAttributes(tt.pl, limit)
			if tt.want == "" {
				assert.Nil(t, herr)
				return
			}
			require.NotNil(t, herr)
			assert.Equal(t, http.StatusBadRequest, herr.status)
			assert.Equal(t, "too_many_attributes", herr.reason)
			assert.Contains(t, herr.msg, tt.want)
			assert.Contains(t, herr.msg, "over the tenant's max_attributes_per_record 10")
		})
	}
}

// The client sees the reason: 1,000 resource attributes or one attribute
// holding a 1,000-key map are refused at the edge, over HTTP and gRPC alike.
func TestWideAttributesAreRefusedWithAReason(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_attributes_per_record: 64", ""))
	ld := testLogs(1, 1)
	putN(ld.ResourceLogs().At(0).Resource().Attributes(), "r", 1000)
	r := tg.post(t, "/v1/logs", keyAcme, logsJSON(t, ld), "Content-Type", ctJSON)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "(resource 1001, scope 0, record 1)")

	ld = testLogs(1, 0)
	putN(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutEmptyMap("m"), "k", 1000)
	r = tg.post(t, "/v1/logs", keyAcme, logsProto(t, ld), "Content-Type", ctProto)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "has 1002 attributes counted at every level")
	assert.Empty(t, tg.sink.all())
}
