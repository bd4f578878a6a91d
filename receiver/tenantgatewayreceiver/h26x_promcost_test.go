package tenantgatewayreceiver

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// h26xVarints is k copies of field num as a 1-byte varint: a repeated
// number sent unpacked.
func h26xVarints(num, k int) []byte {
	var b []byte
	for range k {
		b = protowire.AppendVarint(protowire.AppendTag(b, protowire.Number(num), protowire.VarintType), 0)
	}
	return b
}

// h26xDoubles is k copies of field num as a double, unpacked.
func h26xDoubles(num, k int) []byte {
	var b []byte
	for range k {
		b = protowire.AppendFixed64(protowire.AppendTag(b, protowire.Number(num), protowire.Fixed64Type), 0)
	}
	return b
}

// TestH26xRemoteWriteStaysWithinItsBudget: a remote write body under
// max_decompressed_bytes that passes the cost check and the conversion
// check allocates, decoded and converted, at most promCostFactor times
// max_decompressed_bytes. Each shape is built to fill the budget by the
// schema's costs: series each naming a new job or instance (a resource,
// a scope, a metric and a map each when converted) or a new metric name,
// and empty histograms (counted) followed by a histogram's repeated
// numbers sent unpacked (not counted by the schema).
func TestH26xRemoteWriteStaysWithinItsBudget(t *testing.T) {
	const maxDecoded = 1 << 20
	limit := int64(promCostFactor * maxDecoded)
	series := func(labels func(i int) [][2]string) func(k int) []byte {
		return func(k int) []byte {
			return pbRepeat(1, k, func(i int) []byte {
				var ts []byte
				for _, l := range labels(i) {
					ts = append(ts, pbField(1, rwLabelPB(l[0], l[1]))...)
				}
				return ts
			})
		}
	}
	histogramsThen := func(tail []byte) func(k int) []byte {
		return func(k int) []byte {
			return pbField(1, append(pbRepeat(4, k, none), pbField(4, tail)...))
		}
	}
	for _, c := range []struct {
		name string
		body func(k int) []byte
	}{
		{"series_new_job", series(func(i int) [][2]string { return [][2]string{{"__name__", "m"}, {"job", fmt.Sprint(i)}} })},
		{"series_new_instance", series(func(i int) [][2]string { return [][2]string{{"__name__", "m"}, {"instance", fmt.Sprint(i)}} })},
		{"series_new_everything", series(func(i int) [][2]string {
			return [][2]string{{"__name__", fmt.Sprint(i)}, {"job", fmt.Sprint(i)}, {"instance", fmt.Sprint(i)}}
		})},
		{"series_new_name", series(func(i int) [][2]string { return [][2]string{{"__name__", fmt.Sprint(i)}} })},
		{"histograms_then_unpacked_deltas", histogramsThen(h26xVarints(12, 440_000))},
		{"histograms_then_unpacked_counts", histogramsThen(h26xDoubles(13, 100_000))},
		{"histograms_then_repeated_count_int", histogramsThen(h26xVarints(1, 440_000))},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The most elements the checks pass, within max_decompressed_bytes.
			passes := func(k int) bool {
				body := c.body(k)
				if len(body) > maxDecoded {
					return false
				}
				cost, flaw := protoScan(remoteWrite.schema, body, limit)
				require.NoError(t, flaw)
				if cost > limit {
					return false
				}
				_, err := decodeRemoteWrite(body, decodeLimits{maxCost: limit - cost, factor: promCostFactor})
				var fan *fanOutError
				return !errors.As(err, &fan)
			}
			// passes(lo), !passes(hi), to 1%; hi is where the body would pass
			// max_decompressed_bytes.
			b0, b1 := len(c.body(0)), len(c.body(1000))
			lo, hi := 0, (maxDecoded-b0)*1000/(b1-b0)+2
			for hi-lo > max(1, lo/100) {
				if mid := (lo + hi) / 2; passes(mid) {
					lo = mid
				} else {
					hi = mid
				}
			}
			body := c.body(lo)
			_, err := decodeRemoteWrite(body, decodeLimits{})
			alloc := allocatedBy(func() { _, _ = decodeRemoteWrite(body, decodeLimits{}) })
			t.Logf("at most %d elements pass, %d bytes: %v; decoding allocated %d (%.1f times max_decompressed_bytes)", lo, len(body), err, alloc, float64(alloc)/maxDecoded)
			assert.LessOrEqual(t, alloc, limit, "a body the checks pass must decode within %d times max_decompressed_bytes", promCostFactor)
		})
	}
}

// TestH26xLokiJSONIsCountedBeforeDecoding: Loki's JSON push holds its
// entries as arrays, ["<ns>", "line"], which the JSON pass counted
// nothing for (it counts objects): 1 MiB of ["1",""] is 116,000 log
// records, about 100 MB decoded. Such a body is refused with 413 before it
// is decoded; an ordinary push of access-log lines with structured
// metadata just under 1 MiB passes.
func TestH26xLokiJSONIsCountedBeforeDecoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB\nrecords_per_second: 100000000\nbytes_per_second: 1GiB", ""))
	for _, tt := range []struct{ name, elem, stream string }{
		{"values", `["1",""]`, `{"stream":{"a":"b"},"values":[%s]}`},
		{"values_with_metadata", `["1","",{"a":""}]`, `{"stream":{"a":"b"},"values":[%s]}`},
		{"stream_labels", h26xStreamOfLabels(100), `%s`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := (1<<20 - 64) / (len(tt.elem) + 1)
			body := []byte(`{"streams":[` + fmt.Sprintf(tt.stream, strings.TrimSuffix(strings.Repeat(tt.elem+",", k), ",")) + `]}`)
			require.Less(t, len(body), 1<<20)
			var r response
			alloc := allocatedBy(func() { r = tg.post(t, "/loki/api/v1/push", keyAcme, body, "Content-Type", ctJSON) })
			t.Logf("%d elements, %d bytes: %d %s; %d bytes allocated", k, len(body), r.status, r.body, alloc)
			assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, r.body)
			assert.Contains(t, r.body, "Loki push JSON body")
		})
	}
	// An ordinary push just under max_decompressed_bytes passes.
	var values []string
	size := 0
	for i := 0; size < 1000<<10; i++ {
		v := fmt.Sprintf(`["%d","GET /v1/item/%d 200 %dms user=u%d",{"trace_id":"%032x","level":"info"}]`, 1_700_000_000_000_000_000+i, i, i%97, i%1000, i)
		values = append(values, v)
		size += len(v) + 1
	}
	body := []byte(`{"streams":[{"stream":{"job":"api","instance":"10.0.0.1:9100"},"values":[` + strings.Join(values, ",") + `]}]}`)
	t.Logf("an ordinary push of %d bytes costs %.1f times its size", len(body), float64(lokiJSONCost(body))/float64(len(body)))
	r := tg.post(t, "/loki/api/v1/push", keyAcme, body, "Content-Type", ctJSON)
	assert.Equal(t, http.StatusNoContent, r.status, "%d bytes: %s", len(body), r.body)
}

// h26xStreamOfLabels is a Loki JSON stream of n labels and no entries.
func h26xStreamOfLabels(n int) string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf(`"a%d":""`, i)
	}
	return `{"stream":{` + strings.Join(l, ",") + `}}`
}

// TestH26xHistogramScalarsCostBoundsDecoding: a native histogram's
// repeated numbers sent unpacked (a tag and a number each, where packed
// they share one tag) and its oneof counts repeated (a wrapper allocated
// each time) cost at least what decoding them allocates: 440,000
// unpacked deltas after 16,000 empty histograms allocated 44.8 MB, 42.7
// times max_decompressed_bytes, where the scan counted them nothing.
func TestH26xHistogramScalarsCostBoundsDecoding(t *testing.T) {
	for _, c := range []struct {
		name    string
		scalars func(k int) []byte
	}{
		{"negative_deltas", func(k int) []byte { return h26xVarints(9, k) }},
		{"positive_deltas", func(k int) []byte { return h26xVarints(12, k) }},
		{"negative_counts", func(k int) []byte { return h26xDoubles(10, k) }},
		{"positive_counts", func(k int) []byte { return h26xDoubles(13, k) }},
		{"custom_values", func(k int) []byte { return h26xDoubles(16, k) }},
		{"count_int", func(k int) []byte { return h26xVarints(1, k) }},
		{"count_float", func(k int) []byte { return h26xDoubles(2, k) }},
		{"zero_count_int", func(k int) []byte { return h26xVarints(6, k) }},
		{"zero_count_float", func(k int) []byte { return h26xDoubles(7, k) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			k1, k2 := 10000, 20000
			b1, b2 := pbField(1, pbField(4, c.scalars(k1))), pbField(1, pbField(4, c.scalars(k2)))
			measured := float64(allocatedBy(func() { decodeProm(remoteWrite, b2) })-allocatedBy(func() { decodeProm(remoteWrite, b1) })) / float64(k2-k1)
			c1, err1 := protoScan(remoteWrite.schema, b1, 1<<62)
			c2, err2 := protoScan(remoteWrite.schema, b2, 1<<62)
			require.NoError(t, err1)
			require.NoError(t, err2)
			model := float64(c2-c1) / float64(k2-k1)
			t.Logf("%.0f bytes allocated per element, cost %.0f (%.1f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/float64(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
		})
	}
}

// TestH26xHonestRequestsOfMaxSizePass: what real senders send, just under
// max_decompressed_bytes, passes the cost checks: Prometheus remote write
// of series of 12 to 20 labels, one sample each, 60 metric names over 40
// targets in the order a shard's queue sends them (no two neighbours of
// one target and name: every series counted as starting a resource), and
// a Promtail push of streams of access-log lines each with structured
// metadata (trace_id, span_id, level).
func TestH26xHonestRequestsOfMaxSizePass(t *testing.T) {
	const maxDecoded = 1 << 20
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB\nrecords_per_second: 100000000\nbytes_per_second: 1GiB", ""))

	var series []prompb.TimeSeries
	for i := 0; ; i++ {
		target := (i * 7) % 40
		labels := []prompb.Label{
			{Name: "__name__", Value: fmt.Sprintf("node_metric_family_%d_total", i%60)},
			{Name: "instance", Value: fmt.Sprintf("10.0.%d.%d:9100", target/10, target)},
			{Name: "job", Value: fmt.Sprintf("node-exporter-%d", target%4)},
		}
		for l := range 9 + i%9 {
			labels = append(labels, prompb.Label{Name: fmt.Sprintf("label_%d", l), Value: fmt.Sprintf("value-%d-%d", l, i%13)})
		}
		series = append(series, prompb.TimeSeries{Labels: labels, Samples: []prompb.Sample{{Value: float64(i), Timestamp: 1_700_000_000_000 + int64(i)}}})
		if i%50 == 0 && (&prompb.WriteRequest{Timeseries: series}).Size() > 1000<<10 {
			break
		}
	}
	rw := must((&prompb.WriteRequest{Timeseries: series}).Marshal())

	var streams []push.Stream
	size := 0
	for s := 0; size < 1000<<10; s++ {
		st := push.Stream{Labels: fmt.Sprintf(`{job="varlogs", host="web-%d", filename="/var/log/nginx/access.log"}`, s)}
		for e := range 50 {
			st.Entries = append(st.Entries, push.Entry{
				Timestamp: time.Unix(1_700_000_000, int64(e)),
				Line:      fmt.Sprintf(`10.0.0.%d - - "GET /api/v1/items/%d HTTP/1.1" 200 %d`, e%250, e, 100+e),
				StructuredMetadata: push.LabelsAdapter{
					{Name: "trace_id", Value: fmt.Sprintf("%032x", s*1000+e)},
					{Name: "span_id", Value: fmt.Sprintf("%016x", e)},
					{Name: "level", Value: "info"},
				},
			})
		}
		streams = append(streams, st)
		size = (&push.PushRequest{Streams: streams}).Size()
	}
	loki := must((&push.PushRequest{Streams: streams}).Marshal())

	for _, b := range []struct {
		path string
		req  protoRequest
		pb   []byte
	}{
		{"/api/v1/push", remoteWrite, rw},
		{"/loki/api/v1/push", lokiPush, loki},
	} {
		require.Less(t, len(b.pb), maxDecoded)
		cost, flaw := protoScan(b.req.schema, b.pb, 1<<62)
		require.NoError(t, flaw)
		if b.req.name == remoteWrite.name {
			// What the conversion check adds.
			var req prompb.WriteRequest
			require.NoError(t, req.Unmarshal(b.pb))
			conversion, err := checkRemoteWriteSeries(req.Timeseries, decodeLimits{})
			require.NoError(t, err)
			cost += conversion
		}
		t.Logf("%s, %d bytes: cost %.1f times its size, %.1f times max_decompressed_bytes (the bound is %d)", b.path, len(b.pb), float64(cost)/float64(len(b.pb)), float64(cost)/maxDecoded, promCostFactor)
		r := tg.post(t, b.path, keyAcme, snappy.Encode(nil, b.pb), "Content-Type", ctProto, "Content-Encoding", "snappy")
		assert.Equal(t, http.StatusNoContent, r.status, "%s, %d bytes: %s", b.path, len(b.pb), r.body)
	}
}

// TestH26xLokiJSONCostBoundsDecoding: for each element of a Loki JSON push
// (an entry's array, a stream's or metadata's object, a label's key), the
// cost lokiJSONCost counts for one more is at least what decoding and
// converting it allocates (measured between k1 and k2 elements, so the
// fixed part cancels out), and not far above.
func TestH26xLokiJSONCostBoundsDecoding(t *testing.T) {
	join := func(k int, f func(i int) string) string {
		s := make([]string, k)
		for i := range s {
			s[i] = f(i)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		name string
		body func(k int) string
	}{
		{"entries", func(k int) string {
			return `{"streams":[{"stream":{"a":"b"},"values":[` + join(k, func(int) string { return `["1",""]` }) + `]}]}`
		}},
		{"entries_with_metadata", func(k int) string {
			return `{"streams":[{"stream":{"a":"b"},"values":[` + join(k, func(int) string { return `["1","",{}]` }) + `]}]}`
		}},
		{"metadata_labels", func(k int) string {
			return `{"streams":[{"stream":{"a":"b"},"values":[["1","",{` + join(k, func(i int) string { return fmt.Sprintf(`"a%d":""`, i) }) + `}]]}]}`
		}},
		{"streams", func(k int) string {
			return `{"streams":[` + join(k, func(int) string { return `{}` }) + `]}`
		}},
		{"streams_with_a_label", func(k int) string {
			return `{"streams":[` + join(k, func(int) string { return `{"stream":{"a":""}}` }) + `]}`
		}},
		{"stream_labels", func(k int) string {
			return `{"streams":[{"stream":{` + join(k, func(i int) string { return fmt.Sprintf(`"a%d":""`, i) }) + `}}]}`
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			k1, k2 := 10000, 20000
			if strings.HasSuffix(c.name, "labels") {
				k1, k2 = maxLabelSet/2, maxLabelSet // a label set holds at most maxLabelSet
			}
			b1, b2 := []byte(c.body(k1)), []byte(c.body(k2))
			_, err := decodeLokiJSON(b2, decodeLimits{})
			require.NoError(t, err)
			measured := float64(allocatedBy(func() { _, _ = decodeLokiJSON(b2, decodeLimits{}) })-allocatedBy(func() { _, _ = decodeLokiJSON(b1, decodeLimits{}) })) / float64(k2-k1)
			model := float64(lokiJSONCost(b2)-lokiJSONCost(b1)) / float64(k2-k1)
			t.Logf("%.0f bytes allocated per element, cost %.0f (%.1f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/float64(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "lokiJSONCost must bound what decoding allocates")
			assert.LessOrEqual(t, model, 3*measured+64, "a cost far above what decoding allocates refuses honest requests")
		})
	}
}
