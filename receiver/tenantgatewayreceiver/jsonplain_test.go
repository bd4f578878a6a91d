package tenantgatewayreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// plainArrayBodies are OTLP/JSON metrics bodies of one array of k plain
// values, the cheapest on the wire for what pdata allocates to decode them.
var plainArrayBodies = []struct {
	name string
	body func(k int) []byte
}{
	{"bucket_counts_numbers", func(k int) []byte { return histogramArray("bucketCounts", "1", k) }},
	{"bucket_counts_strings", func(k int) []byte { return histogramArray("bucketCounts", `"1"`, k) }},
	{"explicit_bounds", func(k int) []byte { return histogramArray("explicitBounds", "1", k) }},
	{"exponential_positive", func(k int) []byte {
		return []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","exponentialHistogram":{"dataPoints":[{"positive":{"bucketCounts":[` +
			repeatJoined("1", k) + `]}}]}}]}]}]}`)
	}},
	{"entity_id_keys_empty", func(k int) []byte { return entityKeys("idKeys", `""`, k) }},
	{"entity_id_keys", func(k int) []byte { return entityKeys("idKeys", `"a"`, k) }},
	{"entity_description_keys", func(k int) []byte { return entityKeys("descriptionKeys", `""`, k) }},
}

func repeatJoined(v string, k int) string { return strings.TrimSuffix(strings.Repeat(v+",", k), ",") }

func histogramArray(key, v string, k int) []byte {
	return []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"` + key + `":[` +
		repeatJoined(v, k) + `]}]}}]}]}]}`)
}

func entityKeys(key, v string, k int) []byte {
	return []byte(`{"resourceMetrics":[{"resource":{"entityRefs":[{"type":"service","` + key + `":[` + repeatJoined(v, k) + `]}]},"scopeMetrics":[]}]}`)
}

// TestJSONPlainArrayCostBoundsDecoding: the cost the JSON pass gives one
// more plain value of an OTLP array is at least what pdata allocates to
// decode it (measured between 20,000 and 40,000 values, so the fixed part
// cancels out), and not far above it. Before the pass counted them, these
// bodies cost 21 to 29 times their size to decode and were counted as
// nothing (hostile review h26x).
func TestJSONPlainArrayCostBoundsDecoding(t *testing.T) {
	const k1, k2 = 20000, 40000
	for _, b := range plainArrayBodies {
		t.Run(b.name, func(t *testing.T) {
			b1, b2 := b.body(k1), b.body(k2)
			decode := func(body []byte) func() {
				return func() {
					pl, herr := decodeOTLP(signalMetrics, true, body)
					require.Nil(t, herr)
					_ = pl
				}
			}
			measured := float64(allocatedBy(decode(b2))-allocatedBy(decode(b1))) / (k2 - k1)
			c1, herr := checkJSONCost(b1, 0, true)
			require.Nil(t, herr)
			c2, herr := checkJSONCost(b2, 0, true)
			require.Nil(t, herr)
			model := float64(c2-c1) / (k2 - k1)
			t.Logf("%.0f bytes allocated per value, cost %.0f (%.1f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the JSON pass's cost must bound what decoding allocates")
			assert.LessOrEqual(t, model, 3*measured+64, "a cost far above what decoding allocates refuses honest requests")
		})
	}
}

// honestHistograms is an OTLP/JSON metrics body of about size bytes of
// histograms (20 buckets) and exponential histograms (160 buckets each
// side), as an SDK would send them.
func honestHistograms(t *testing.T, size int) []byte {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	var body []byte
	for i := 0; ; i++ {
		m := sm.Metrics().AppendEmpty()
		m.SetName(fmt.Sprintf("http.server.duration.%d", i))
		h := m.SetEmptyHistogram().DataPoints().AppendEmpty()
		h.Attributes().PutStr("http.route", "/api/v1/orders")
		h.SetCount(1000)
		for b := range 20 {
			h.BucketCounts().Append(uint64(b * 7 % 50))
			if b < 19 {
				h.ExplicitBounds().Append(float64(b) * 2.5)
			}
		}
		e := sm.Metrics().AppendEmpty()
		e.SetName(fmt.Sprintf("rpc.latency.%d", i))
		ep := e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
		ep.SetScale(3)
		for b := range 160 {
			ep.Positive().BucketCounts().Append(uint64(b % 4))
			ep.Negative().BucketCounts().Append(uint64(b % 3))
		}
		if i%16 == 0 {
			var err error
			body, err = (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
			require.NoError(t, err)
			if len(body) > size {
				return body
			}
		}
	}
}

// TestJSONPlainArraysAreRefusedBeforeDecoding: a body of plain values in
// bucket counts or entity keys, under the tenant's 1 MiB, would cost over
// 16 times it: refused with 413 before it is decoded, while a body of
// honest histograms of the same size passes.
func TestJSONPlainArraysAreRefusedBeforeDecoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""))
	const size = 1<<20 - 4096
	honest := honestHistograms(t, size-64<<10)
	require.Less(t, len(honest), size)
	cost, herr := checkJSONCost(honest, 0, true)
	require.Nil(t, herr)
	t.Logf("honest histograms: %d bytes, cost %.1f times their size", len(honest), float64(cost)/float64(len(honest)))
	r := tg.post(t, "/v1/metrics", keyAcme, honest, "Content-Type", ctJSON)
	require.Equal(t, http.StatusOK, r.status, r.body)

	for _, b := range []struct {
		name string
		body []byte
	}{
		{"bucket_counts", histogramArray("bucketCounts", "1", size/2-64)},
		{"entity_id_keys", entityKeys("idKeys", `""`, size/3-64)},
	} {
		require.Less(t, len(b.body), size, b.name)
		r := tg.post(t, "/v1/metrics", keyAcme, b.body, "Content-Type", ctJSON)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s: %s", b.name, r.body)
		assert.Contains(t, r.body, "array values, which would take about", b.name)
	}
	assert.Len(t, tg.sink.all(), 1)
}
