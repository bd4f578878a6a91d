package tenantgatewayreceiver

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
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

// pbField is a length-delimited field.
func pbField(num int, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, protowire.Number(num), protowire.BytesType), v)
}

// pbRepeat is k copies of field num holding v.
func pbRepeat(num, k int, v func(i int) []byte) []byte {
	var b []byte
	for i := range k {
		b = append(b, pbField(num, v(i))...)
	}
	return b
}

func none(int) []byte { return nil }

// rwLabel is a remote write Label.
func rwLabelPB(name, value string) []byte {
	return append(pbField(1, []byte(name)), pbField(2, []byte(value))...)
}

// allocatedBy is the bytes f allocates, the least of three runs (see
// allocated).
func allocatedBy(f func()) int64 {
	least := int64(math.MaxInt64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, int64(after.TotalAlloc-before.TotalAlloc))
	}
	return least
}

// promCostCases are Loki and remote write bodies of k elements of one
// kind: the cheapest on the wire for what decoding and converting them
// allocates.
var promCostCases = []struct {
	name string
	req  protoRequest
	body func(k int) []byte
}{
	{"loki/streams", lokiPush, func(k int) []byte {
		return pbRepeat(1, k, func(int) []byte { return pbField(1, []byte(`{a=""}`)) })
	}},
	{"loki/entries", lokiPush, func(k int) []byte {
		return pbField(1, append(pbField(1, []byte(`{a=""}`)), pbRepeat(2, k, none)...))
	}},
	{"loki/entries_with_metadata", lokiPush, func(k int) []byte {
		return pbField(1, append(pbField(1, []byte(`{a=""}`)), pbRepeat(2, k, func(int) []byte { return pbField(3, pbField(1, []byte("a"))) })...))
	}},
	{"loki/entries_with_parsed", lokiPush, func(k int) []byte {
		return pbField(1, append(pbField(1, []byte(`{a=""}`)), pbRepeat(2, k, func(int) []byte { return pbField(4, nil) })...))
	}},
	{"loki/stream_labels", lokiPush, func(k int) []byte {
		labels := make([]string, k)
		for i := range labels {
			labels[i] = fmt.Sprintf(`a%d=""`, i)
		}
		return pbField(1, pbField(1, []byte("{"+strings.Join(labels, ",")+"}")))
	}},
	{"remote_write/series", remoteWrite, func(k int) []byte {
		return pbRepeat(1, k, func(int) []byte { return pbField(1, rwLabelPB("__name__", "m")) })
	}},
	{"remote_write/samples", remoteWrite, func(k int) []byte {
		return pbField(1, append(pbField(1, rwLabelPB("__name__", "m")), pbRepeat(2, k, none)...))
	}},
	{"remote_write/labels", remoteWrite, func(k int) []byte {
		return pbField(1, append(pbField(1, rwLabelPB("__name__", "m")), pbRepeat(1, k, func(i int) []byte { return rwLabelPB(fmt.Sprint(i), "") })...))
	}},
	{"remote_write/exemplars", remoteWrite, func(k int) []byte {
		return pbField(1, append(pbField(1, rwLabelPB("__name__", "m")), pbRepeat(3, k, none)...))
	}},
	{"remote_write/exemplar_labels", remoteWrite, func(k int) []byte {
		return pbField(1, append(pbField(1, rwLabelPB("__name__", "m")), pbField(3, pbRepeat(1, k, none))...))
	}},
	{"remote_write/histograms", remoteWrite, func(k int) []byte {
		return pbField(1, pbRepeat(4, k, none))
	}},
	{"remote_write/histogram_spans", remoteWrite, func(k int) []byte {
		return pbField(1, pbField(4, pbRepeat(8, k, none)))
	}},
	{"remote_write/histogram_deltas", remoteWrite, func(k int) []byte {
		return pbField(1, pbField(4, pbField(9, make([]byte, k))))
	}},
	{"remote_write/metadata", remoteWrite, func(k int) []byte {
		return pbRepeat(3, k, none)
	}},
}

// decodeProm decodes body as req's protocol with no limits.
func decodeProm(req protoRequest, body []byte) {
	if req.name == lokiPush.name {
		_, _ = decodeLokiProto(body, decodeLimits{})
	} else {
		_, _ = decodeRemoteWrite(body, decodeLimits{})
	}
}

// TestPromCostBoundsDecoding: for every repeated message of Loki's
// PushRequest and remote write's WriteRequest, the schema's cost of one
// more element is at least what decoding and converting it allocates
// (measured between k1 and k2 elements, so the fixed part cancels out).
func TestPromCostBoundsDecoding(t *testing.T) {
	for _, c := range promCostCases {
		t.Run(c.name, func(t *testing.T) {
			k1, k2 := 10000, 20000
			if strings.HasSuffix(c.name, "labels") && !strings.Contains(c.name, "exemplar") {
				k1, k2 = maxLabelSet/2, maxLabelSet // a label set holds at most maxLabelSet
			}
			b1, b2 := c.body(k1), c.body(k2)
			measured := float64(allocatedBy(func() { decodeProm(c.req, b2) })-allocatedBy(func() { decodeProm(c.req, b1) })) / float64(k2-k1)
			c1, err1 := protoScan(c.req.schema, b1, 1<<62)
			c2, err2 := protoScan(c.req.schema, b2, 1<<62)
			assert.NoError(t, err1)
			assert.NoError(t, err2)
			model := float64(c2-c1) / float64(k2-k1)
			t.Logf("%.0f bytes allocated per element, cost %.0f (%.1f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/float64(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
			assert.LessOrEqual(t, model, 3*measured+64, "a cost far above what decoding allocates refuses honest requests")
		})
	}
}

// TestRemoteWriteFanOutCostBoundsConversion: what a sample costs with
// its series' labels copied to it is at most its cost and the copies'.
func TestRemoteWriteFanOutCostBoundsConversion(t *testing.T) {
	const labels = 200
	body := func(samples int) []byte {
		ts := pbField(1, rwLabelPB("__name__", "m"))
		ts = append(ts, pbRepeat(1, labels, func(i int) []byte { return rwLabelPB(fmt.Sprint(i), "") })...)
		return pbField(1, append(ts, pbRepeat(2, samples, none)...))
	}
	k1, k2 := 1000, 2000
	measured := float64(allocatedBy(func() { decodeProm(remoteWrite, body(k2)) })-allocatedBy(func() { decodeProm(remoteWrite, body(k1)) })) / float64(k2-k1)
	model := float64(rwSampleCost + labels*rwAttributeCost)
	t.Logf("%.0f bytes allocated per sample of %d labels, cost %.0f", measured, labels, model)
	assert.GreaterOrEqual(t, model, measured)
}

// A Loki or remote write body whose messages would cost over 32 times
// the tenant's max_decompressed_bytes to decode is refused before it is
// decoded, as an OTLP body is: 100,000 empty remote write histograms are
// 200 KB on the wire and 160 MB decoded.
func TestPromBodyOfEmptyMessagesIsRefusedBeforeDecoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""))
	for _, tt := range []struct {
		name, path string
		body       []byte
	}{
		{"remote_write/histograms", "/api/v1/push", pbField(1, pbRepeat(4, 100_000, none))},
		{"remote_write/samples", "/api/v1/push", pbField(1, append(pbField(1, rwLabelPB("__name__", "m")), pbRepeat(2, 100_000, none)...))},
		{"remote_write/metadata", "/api/v1/push", pbRepeat(3, 100_000, none)},
		{"loki/entries", "/loki/api/v1/push", pbField(1, append(pbField(1, []byte(`{a="b"}`)), pbRepeat(2, 100_000, none)...))},
		{"loki/streams", "/loki/api/v1/push", pbRepeat(1, 60_000, func(int) []byte { return pbField(1, []byte(`{a="b"}`)) })},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, tt.path, keyAcme, snappy.Encode(nil, tt.body), "Content-Type", ctProto, "Content-Encoding", "snappy")
			assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, r.body)
			assert.Contains(t, r.body, "decoding it would take over 32 MiB")
		})
	}
	// Ordinary requests just under max_decompressed_bytes pass.
	var series []prompb.TimeSeries
	for i := 0; ; i++ {
		series = append(series, prompb.TimeSeries{
			Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "job", Value: "api"}, {Name: "instance", Value: "10.0.0.1:9100"},
				{Name: "method", Value: "GET"}, {Name: "path", Value: fmt.Sprintf("/v1/item/%d", i)}},
			Samples: []prompb.Sample{{Value: float64(i), Timestamp: 1_700_000_000_000}},
		})
		if i%100 == 0 && (&prompb.WriteRequest{Timeseries: series}).Size() > 1000<<10 {
			break
		}
	}
	var entries []push.Entry
	for i := 0; ; i++ {
		entries = append(entries, push.Entry{Timestamp: time.Unix(int64(i), 0), Line: fmt.Sprintf("GET /v1/item/%d 200 12ms user=u%d", i, i)})
		if i%100 == 0 && len(entries)*50 > 1000<<10 {
			break
		}
	}
	for _, b := range []struct {
		path string
		pb   []byte
	}{
		{"/api/v1/push", must((&prompb.WriteRequest{Timeseries: series}).Marshal())},
		{"/loki/api/v1/push", must((&push.PushRequest{Streams: []push.Stream{{Labels: `{job="api", instance="10.0.0.1:9100", level="info"}`, Entries: entries}}}).Marshal())},
	} {
		require.Less(t, len(b.pb), 1<<20)
		r := tg.post(t, b.path, keyAcme, snappy.Encode(nil, b.pb), "Content-Type", ctProto, "Content-Encoding", "snappy")
		assert.Equal(t, http.StatusNoContent, r.status, "%s, %d bytes: %s", b.path, len(b.pb), r.body)
	}
}

// A remote write series' labels are copied to each of its samples: the
// product is checked before any is converted. 250 labels and 20,000
// samples are 43 KB on the wire and would be 5,000,000 attributes.
func TestRemoteWriteFanOutIsRefusedBeforeConversion(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB\nmax_attributes_per_record: 0", ""))
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "m"}}}
	for i := range 250 {
		ts.Labels = append(ts.Labels, prompb.Label{Name: fmt.Sprint("l", i), Value: ""})
	}
	ts.Samples = make([]prompb.Sample, 20000)
	pb := must((&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}}).Marshal())
	r := tg.post(t, "/api/v1/push", keyAcme, snappy.Encode(nil, pb), "Content-Type", ctProto, "Content-Encoding", "snappy")
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, r.body)
	assert.Contains(t, r.body, "by timeseries[0], decoding the body and copying each series' labels to each of its samples would take more than 32 times")
	assert.Empty(t, tg.sink.all())
}

// A label set (a Loki stream's labels, an entry's structured metadata, a
// remote write series' labels) is refused before it is built when it
// holds more labels than the tenant's max_attributes_per_record, or than
// maxLabelSet where that is 0, or names a label twice (a later value
// replaced an earlier one); building one cost the square of its size.
func TestLabelSetsAreCheckedBeforeTheyAreBuilt(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_attributes_per_record: 0", "max_attributes_per_record: 64"))
	labels := func(n int) string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf(`l%d=""`, i)
		}
		return "{" + strings.Join(l, ",") + "}"
	}
	loki := func(labels string, meta ...push.LabelAdapter) []byte {
		req := push.PushRequest{Streams: []push.Stream{{Labels: labels, Entries: []push.Entry{{Timestamp: time.Unix(1, 0), Line: "x", StructuredMetadata: meta}}}}}
		return snappy.Encode(nil, must(req.Marshal()))
	}
	metaN := func(n int) []push.LabelAdapter {
		m := make([]push.LabelAdapter, n)
		for i := range m {
			m[i] = push.LabelAdapter{Name: fmt.Sprint("m", i), Value: "v"}
		}
		return m
	}
	rw := func(l ...prompb.Label) []byte {
		ts := prompb.TimeSeries{Labels: append([]prompb.Label{{Name: "__name__", Value: "m"}}, l...), Samples: []prompb.Sample{{Value: 1, Timestamp: 1}}}
		return snappy.Encode(nil, must((&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}}).Marshal()))
	}
	rwN := func(n int) []byte {
		l := make([]prompb.Label, n)
		for i := range l {
			l[i] = prompb.Label{Name: fmt.Sprint("l", i), Value: ""}
		}
		return rw(l...)
	}
	for _, tt := range []struct {
		name, key, path string
		body            []byte
		want            string
	}{
		{"loki stream labels, no limit", keyAcme, "/loki/api/v1/push", loki(labels(maxLabelSet + 1)), "streams[0].labels: 257 labels, over the 256 a label set may hold"},
		{"loki stream labels, limit", keyGlobex, "/loki/api/v1/push", loki(labels(65)), "streams[0].labels: 65 labels, over the tenant's max_attributes_per_record 64"},
		{"loki metadata, no limit", keyAcme, "/loki/api/v1/push", loki(`{a="b"}`, metaN(maxLabelSet+1)...), "streams[0].entries[0].structuredMetadata: 257 labels, over the 256"},
		{"loki metadata, limit", keyGlobex, "/loki/api/v1/push", loki(`{a="b"}`, metaN(65)...), "over the tenant's max_attributes_per_record 64"},
		{"loki stream label twice", keyAcme, "/loki/api/v1/push", loki(`{a="1", a="2"}`), `streams[0].labels: label name "a" given twice`},
		{"loki metadata twice", keyAcme, "/loki/api/v1/push", loki(`{a="b"}`, push.LabelAdapter{Name: "k", Value: "1"}, push.LabelAdapter{Name: "k", Value: "2"}), `structuredMetadata: label name "k" given twice`},
		{"remote write labels, no limit", keyAcme, "/api/v1/push", rwN(maxLabelSet + 1), "timeseries[0]: 257 labels, over the 256 a label set may hold"},
		{"remote write labels, limit", keyGlobex, "/api/v1/push", rwN(65), "timeseries[0]: 65 labels, over the tenant's max_attributes_per_record 64"},
		{"remote write label twice", keyAcme, "/api/v1/push", rw(prompb.Label{Name: "k", Value: "1"}, prompb.Label{Name: "k", Value: "2"}), `timeseries[0].labels[2]: label name "k" given twice`},
		{"remote write name twice", keyAcme, "/api/v1/push", rw(prompb.Label{Name: "__name__", Value: "other"}), `timeseries[0].labels[1]: label name "__name__" given twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, tt.path, tt.key, tt.body, "Content-Type", ctProto, "Content-Encoding", "snappy")
			assert.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Contains(t, r.body, tt.want)
		})
	}
	assert.Empty(t, tg.sink.all())

	// At the limits, the sets pass.
	for _, b := range []struct {
		key, path string
		body      []byte
	}{
		{keyAcme, "/loki/api/v1/push", loki(labels(maxLabelSet), metaN(maxLabelSet)...)},
		{keyAcme, "/api/v1/push", rwN(maxLabelSet)},
	} {
		r := tg.post(t, b.path, b.key, b.body, "Content-Type", ctProto, "Content-Encoding", "snappy")
		assert.Equal(t, http.StatusNoContent, r.status, r.body)
	}
}
