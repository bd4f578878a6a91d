package tenantgatewayreceiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// h27xMessageArrayBodies put k plain values (or empty objects) where
// OTLP/JSON has messages. pdata appends the message before it reads the
// value and finds it is not one, and goes on to the next: the body does
// not decode, but every value cost a message. An exemplar is the dearest
// message (its objects too cost more than jsonObjectCost).
var h27xMessageArrayBodies = []struct {
	name, signal string
	pre, v, post string
}{
	{"spans_numbers", signalTraces, `{"resourceSpans":[{"scopeSpans":[{"spans":[`, "1", `]}]}]}`},
	{"spans_escaped_key", signalTraces, `{"resourceSpans":[{"scopeSpans":[{"span\u0073":[`, "1", `]}]}]}`},
	{"log_records_snake_case", signalLogs, `{"resource_logs":[{"scope_logs":[{"log_records":[`, "1", `]}]}]}`},
	{"attributes_nulls", signalLogs, `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[`, "null", `]}]}]}]}`},
	{"exponential_data_points", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","exponentialHistogram":{"dataPoints":[`, "1", `]}}]}]}]}`},
	{"exemplars_numbers", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","sum":{"dataPoints":[{"exemplars":[`, "1", `]}]}}]}]}]}`},
	{"exemplars_objects", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","sum":{"dataPoints":[{"exemplars":[`, "{}", `]}]}}]}]}]}`},
	// Values no SDK puts in bucket counts or entity keys: pdata fails
	// to read each (a number's error allocates) and goes on.
	{"bucket_counts_minus", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"bucketCounts":[`, "-", `]}]}}]}]}]}`},
	{"explicit_bounds_nulls", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"explicitBounds":[`, "null", `]}]}}]}]}]}`},
	{"id_keys_numbers", signalMetrics, `{"resourceMetrics":[{"resource":{"entityRefs":[{"type":"service","idKeys":[`, "1", `]}]},"scopeMetrics":[]}]}`},
	{"id_keys_minus", signalMetrics, `{"resourceMetrics":[{"resource":{"entityRefs":[{"type":"service","idKeys":[`, "-", `]}]},"scopeMetrics":[]}]}`},
	{"exemplars_escaped_key_objects", signalMetrics, `{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","sum":{"dataPoints":[{"exempl\u0061rs":[`, "{}", `]}]}}]}]}]}`},
}

func h27xBody(pre, v, post string, k int) []byte {
	return []byte(pre + repeatJoined(v, k) + post)
}

// TestH27xJSONValuesWhereMessagesGoBoundDecoding: the cost the JSON pass
// gives one more value of these arrays is at least what pdata allocates
// to decode it, measured between 20,000 and 40,000 values as
// TestJSONPlainArrayCostBoundsDecoding does. 3cb40dd counted a plain value
// of any array but bucket counts and bounds at 96 bytes: a number in
// spans cost pdata 320, in exemplars 479 (240 times its 2 bytes on the
// wire, the pass enforcing 16); an empty exemplar 412 against 256.
func TestH27xJSONValuesWhereMessagesGoBoundDecoding(t *testing.T) {
	const k1, k2 = 20000, 40000
	for _, b := range h27xMessageArrayBodies {
		t.Run(b.name, func(t *testing.T) {
			b1, b2 := h27xBody(b.pre, b.v, b.post, k1), h27xBody(b.pre, b.v, b.post, k2)
			decode := func(body []byte) func() {
				return func() { _, _ = decodeOTLP(b.signal, true, body) }
			}
			measured := float64(allocatedBy(decode(b2))-allocatedBy(decode(b1))) / (k2 - k1)
			c1, herr := checkJSONCost(b1, 0, true)
			require.Nil(t, herr)
			c2, herr := checkJSONCost(b2, 0, true)
			require.Nil(t, herr)
			model := float64(c2-c1) / (k2 - k1)
			t.Logf("%.0f bytes allocated per value, cost %.0f (%.1f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the JSON pass's cost must bound what decoding allocates")
		})
	}
}

// TestH27xJSONNumbersInSpansAreRefusedBeforeDecoding: 150,000 numbers in
// spans (300 KB) under the tenant's 1 MiB took about 48 MB to decode, 46
// times it, and were counted at 14.4 MB; 300,000 bare '-' in bucket
// counts (600 KB) about 62 MB, counted at 14.4 MB. They are refused with
// 413 before decoding. Honest exemplars still pass.
func TestH27xJSONNumbersInSpansAreRefusedBeforeDecoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""))
	for _, b := range []struct {
		path string
		body []byte
	}{
		{"/v1/traces", h27xBody(`{"resourceSpans":[{"scopeSpans":[{"spans":[`, "1", `]}]}]}`, 150000)},
		{"/v1/metrics", h27xBody(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","sum":{"dataPoints":[{"exemplars":[`, "1", `]}]}}]}]}]}`, 150000)},
		{"/v1/metrics", h27xBody(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"bucketCounts":[`, "-", `]}]}}]}]}]}`, 300000)},
	} {
		r := tg.post(t, b.path, keyAcme, b.body, "Content-Type", ctJSON)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s: %s", b.path, r.body)
	}

	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	for i := range 1000 {
		m := sm.Metrics().AppendEmpty()
		m.SetName("http.server.requests")
		dp := m.SetEmptySum().DataPoints().AppendEmpty()
		dp.SetIntValue(int64(i))
		dp.Attributes().PutStr("http.route", "/api/v1/orders")
		for j := range 4 {
			ex := dp.Exemplars().AppendEmpty()
			ex.SetDoubleValue(float64(j))
			ex.SetTimestamp(pcommon.Timestamp(1700000000000000000 + j))
			ex.SetTraceID(pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, byte(j)})
			ex.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, byte(j)})
		}
	}
	honest, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	cost, herr := checkJSONCost(honest, 0, true)
	require.Nil(t, herr)
	t.Logf("honest exemplars: %d bytes, cost %.1f times their size", len(honest), float64(cost)/float64(len(honest)))
	r := tg.post(t, "/v1/metrics", keyAcme, honest, "Content-Type", ctJSON)
	require.Equal(t, http.StatusOK, r.status, r.body)
}
