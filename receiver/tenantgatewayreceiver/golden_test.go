package tenantgatewayreceiver

import (
	"math"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var lokiTime = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

// lokiRequest is the push both Loki golden cases send.
func lokiRequest() push.PushRequest {
	return push.PushRequest{Streams: []push.Stream{
		{Labels: `{job="shop", env="prod", path="C:\\temp \"x\""}`, Entries: []push.Entry{
			{Timestamp: lokiTime, Line: "order 42 paid"},
			{Timestamp: lokiTime.Add(time.Millisecond), Line: "order 43 paid", StructuredMetadata: push.LabelsAdapter{
				{Name: "trace_id", Value: "0af7651916cd43dd8448eb211c80319c"}, {Name: "user", Value: "u-17"}}},
		}},
		{Labels: `{job="billing"}`, Entries: []push.Entry{{Timestamp: lokiTime.Add(time.Second), Line: "invoice sent"}}},
	}}
}

const lokiJSONBody = `{"streams":[
 {"stream":{"job":"shop","env":"prod","path":"C:\\temp \"x\""},
  "values":[["1795600800123456789","order 42 paid"],
            ["1795600800124456789","order 43 paid",{"user":"u-17","trace_id":"0af7651916cd43dd8448eb211c80319c"}]]},
 {"stream":{"job":"billing"},"values":[["1795601800123456789","invoice sent"]]}
]}`

// TestLokiGolden checks both Loki encodings against testdata/golden. To
// regenerate after an intended change, do as contrib's pkg/golden says: add
// golden.WriteLogs(t, path, got) before the read, run once, remove it and
// review the diff.
func TestLokiGolden(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	req := lokiRequest()
	pb, err := req.Marshal()
	require.NoError(t, err)

	r := tg.post(t, "/loki/api/v1/push", keyAcme, snappy.Encode(nil, pb), "Content-Type", ctProto)
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	r = tg.post(t, "/loki/api/v1/push", keyGlobex, gzipped([]byte(lokiJSONBody)), "Content-Type", ctJSON, "Content-Encoding", "gzip")
	require.Equal(t, http.StatusNoContent, r.status, r.body)

	got := tg.sink.all()
	require.Len(t, got, 2)
	assert.Equal(t, "acme", got[0].tenant)
	assert.Equal(t, "globex", got[1].tenant)
	for i, name := range []string{"loki_proto.yaml", "loki_json.yaml"} {
		want, err := golden.ReadLogs(filepath.Join("testdata", "golden", name))
		require.NoError(t, err)
		// The observed time is the time of the run: not compared, left out of the files.
		require.NoError(t, plogtest.CompareLogs(want, got[i].logs, plogtest.IgnoreObservedTimestamp()), name)
	}
	// The JSON lists the second stream's entry a second later than the
	// proto; apart from that the two encodings give the same logs.
	first := got[0].logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, lokiTime.UnixNano(), int64(first.At(0).Timestamp()), "timestamps kept to the nanosecond")
}

func TestLokiRefusals(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	long := make([]byte, 3000)
	for i := range long {
		long[i] = 'x'
	}
	tests := []struct {
		name string
		ct   string
		body []byte
		want string
	}{
		{"not snappy", ctProto, []byte("plain protobuf, not snappy"), "snappy"},
		{"corrupt protobuf", ctProto, snappy.Encode(nil, []byte{0x0a, 0xff, 0xff}), "not a valid Loki PushRequest protobuf"},
		{"bad labels", ctProto, snappy.Encode(nil, must(pushOf(`{job=shop}`, "x").Marshal())), `streams[0].labels: label "job": value is not a double-quoted string`},
		{"oversized label value", ctProto, snappy.Encode(nil, must(pushOf(`{job="`+string(long)+`"}`, "x").Marshal())), "value is 3000 bytes, over 2048"},
		{"json syntax", ctJSON, []byte("{\"streams\":[\n{\"stream\":{}, \"values\": [[\"1\" \"x\"]]}]}"), "line 2, column 31 (offset 43)"},
		{"json wrong type", ctJSON, []byte(`{"streams":[{"stream":{"job":5}}]}`), `field "streams.stream" must be string, not number`},
		{"json bad timestamp", ctJSON, []byte(`{"streams":[{"stream":{"job":"a"},"values":[["yesterday","x"]]}]}`), `streams[0].values[0][0]: timestamp "yesterday" is not an integer`},
		{"json short entry", ctJSON, []byte(`{"streams":[{"stream":{"job":"a"},"values":[["1"]]}]}`), "streams[0].values[0]: want [timestamp, line]"},
		{"json bad label name", ctJSON, []byte(`{"streams":[{"stream":{"a-b":"c"},"values":[]}]}`), `label name "a-b" is not valid`},
		{"json oversized label name", ctJSON, []byte(`{"streams":[{"stream":{"` + string(long) + `":"c"},"values":[]}]}`), "is 3000 bytes, over 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, "/loki/api/v1/push", keyAcme, tt.body, "Content-Type", tt.ct)
			assert.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Contains(t, r.body, tt.want)
		})
	}
	assert.Empty(t, tg.sink.all())
}

func pushOf(labels, line string) *push.PushRequest {
	return &push.PushRequest{Streams: []push.Stream{{Labels: labels, Entries: []push.Entry{{Timestamp: lokiTime, Line: line}}}}}
}

// remoteWriteRequest holds a counter with metadata, a gauge, a histogram
// bucket and a series of a second job.
func remoteWriteRequest() *prompb.WriteRequest {
	ms := lokiTime.UnixMilli()
	lbl := func(kv ...string) []prompb.Label {
		var out []prompb.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, prompb.Label{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	return &prompb.WriteRequest{
		Timeseries: []prompb.TimeSeries{
			{Labels: lbl("__name__", "http_requests_total", "job", "shop", "instance", "10.0.0.1:9090", "code", "200"),
				Samples: []prompb.Sample{{Value: 10, Timestamp: ms}, {Value: 12, Timestamp: ms + 15000}}},
			{Labels: lbl("__name__", "http_requests_total", "job", "shop", "instance", "10.0.0.1:9090", "code", "500"),
				Samples: []prompb.Sample{{Value: 1, Timestamp: ms}}},
			{Labels: lbl("__name__", "queue_depth", "job", "shop", "instance", "10.0.0.1:9090"),
				Samples: []prompb.Sample{{Value: 3.5, Timestamp: ms}}},
			{Labels: lbl("__name__", "latency_seconds_bucket", "job", "shop", "instance", "10.0.0.1:9090", "le", "0.5"),
				Samples: []prompb.Sample{{Value: 7, Timestamp: ms}}},
			{Labels: lbl("__name__", "up", "job", "billing", "instance", "10.0.0.2:9090"),
				Samples: []prompb.Sample{{Value: 1, Timestamp: ms}}},
		},
		Metadata: []prompb.MetricMetadata{
			{MetricFamilyName: "http_requests_total", Type: prompb.MetricMetadata_COUNTER},
			{MetricFamilyName: "latency_seconds", Type: prompb.MetricMetadata_HISTOGRAM},
		},
	}
}

// TestRemoteWriteGolden checks a remote write request against
// testdata/golden/remote_write.yaml. To regenerate, add
// golden.WriteMetrics(t, path, got, golden.SkipMetricTimestampNormalization())
// before the read (the samples' own times are what is checked), run once,
// remove it and review the diff.
func TestRemoteWriteGolden(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	pb, err := remoteWriteRequest().Marshal()
	require.NoError(t, err)
	r := tg.post(t, "/api/v1/push", keyGlobex, snappy.Encode(nil, pb),
		"Content-Type", ctProto, "Content-Encoding", "snappy", "X-Prometheus-Remote-Write-Version", "0.1.0")
	require.Equal(t, http.StatusNoContent, r.status, r.body)
	got := tg.sink.all()
	require.Len(t, got, 1)
	assert.Equal(t, "globex", got[0].tenant)
	want, err := golden.ReadMetrics(filepath.Join("testdata", "golden", "remote_write.yaml"))
	require.NoError(t, err)
	require.NoError(t, pmetrictest.CompareMetrics(want, got[0].metrics))
}

func TestRemoteWriteStaleMarker(t *testing.T) {
	req := &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: "up"}},
		Samples: []prompb.Sample{{Value: math.Float64frombits(value.StaleNaN), Timestamp: 1}},
	}}}
	pb, err := req.Marshal()
	require.NoError(t, err)
	md, err := decodeRemoteWrite(pb, decodeLimits{})
	require.NoError(t, err)
	dp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0)
	assert.True(t, dp.Flags().NoRecordedValue())
}

func TestRemoteWriteRefusals(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	long := string(make([]byte, 3000))
	enc := func(r *prompb.WriteRequest) []byte { return snappy.Encode(nil, must(r.Marshal())) }
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{"not snappy", []byte("nope"), "snappy"},
		{"truncated", enc(remoteWriteRequest())[:40], "snappy"},
		{"corrupt protobuf", snappy.Encode(nil, []byte{0x0a, 0x05, 0x0a}), "not a valid remote write WriteRequest protobuf"},
		{"no name", enc(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "job", Value: "a"}}}}}), "timeseries[0]: no __name__ label"},
		{"oversized label", enc(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "up"}, {Name: "x", Value: long}}}}}), "timeseries[0].labels[1]: label \"x\": value is 3000 bytes, over 2048"},
		{"native histogram", enc(&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: []prompb.Label{{Name: "__name__", Value: "h"}}, Histograms: []prompb.Histogram{{}}}}}), "native histograms are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, "/api/v1/push", keyAcme, tt.body, "Content-Type", ctProto, "Content-Encoding", "snappy")
			assert.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Contains(t, r.body, tt.want)
		})
	}
	assert.Empty(t, tg.sink.all())
}
