package tenantgatewayreceiver

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// testLogs returns n log records, each with attrs attributes.
func testLogs(n, attrs int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "shop")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(fmt.Sprintf("record %d: something happened in the shop", i))
		for a := range attrs {
			lr.Attributes().PutStr(fmt.Sprintf("attr.%d", a), "value")
		}
	}
	return ld
}

func logsProto(t testing.TB, ld plog.Logs) []byte {
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	return b
}

func logsJSON(t testing.TB, ld plog.Logs) []byte {
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalJSON()
	require.NoError(t, err)
	return b
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

const ctProto, ctJSON = "application/x-protobuf", "application/json"

func TestOTLPEverySignalCarriesTheVerifiedTenant(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))

	md := pmetric.NewMetrics()
	g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("queue_depth")
	g.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(7)
	mb, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	require.NoError(t, err)
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("checkout")
	tb, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)

	r := tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(3, 1)), "Content-Type", ctProto)
	require.Equal(t, http.StatusOK, r.status, r.body)
	r = tg.post(t, "/v1/logs", keyGlobex, gzipped(logsJSON(t, testLogs(2, 1))), "Content-Type", ctJSON, "Content-Encoding", "gzip")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.JSONEq(t, `{"partialSuccess":{}}`, r.body)
	r = tg.post(t, "/v1/metrics", keyAcme, mb, "Content-Type", ctJSON)
	require.Equal(t, http.StatusOK, r.status, r.body)
	r = tg.post(t, "/v1/traces", keyGlobex, tb, "Content-Type", ctProto+"; charset=utf-8")
	require.Equal(t, http.StatusOK, r.status, r.body)

	got := tg.sink.all()
	require.Len(t, got, 4)
	assert.Equal(t, "acme", got[0].tenant)
	assert.Equal(t, 3, got[0].logs.LogRecordCount())
	assert.Equal(t, "globex", got[1].tenant)
	assert.Equal(t, 2, got[1].logs.LogRecordCount())
	assert.Equal(t, "acme", got[2].tenant)
	assert.Equal(t, "queue_depth", got[2].metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Name())
	assert.Equal(t, "globex", got[3].tenant)
	assert.Equal(t, 1, got[3].traces.SpanCount())
	// The authenticator's key id stays, and the gateway names itself, so a
	// quarantined spoof is attributable to a key and a receiver.
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey,
		Credential: identity.KeyID(keyAcme), Receiver: "tenantgateway/edge"}, got[0].auth)
	assert.Equal(t, identity.KeyID(keyGlobex), got[3].auth.Credential)
	assert.Equal(t, "tenantgateway/edge", got[3].auth.Receiver)
}

func TestRefusals(t *testing.T) {
	tg := startGateway(t, policyWith(t, `
max_request_bytes: 4096
max_decompressed_bytes: 65536
max_attributes_per_record: 4`, ""))
	small := logsProto(t, testLogs(2, 1))

	// A snappy block that declares 1 GiB: refused from its header alone.
	bomb := binary.AppendUvarint(nil, 1<<30)
	bomb = append(bomb, 0, 0, 0)
	gzBomb := gzipped(make([]byte, 1<<20)) // about 1 KiB on the wire, 1 MiB inflated

	tests := []struct {
		name, path, key string
		body            []byte
		headers         []string
		status          int
		want            string
	}{
		{"no key", "/v1/logs", "", small, []string{"Content-Type", ctProto}, 401, "no API key"},
		{"unknown key", "/v1/logs", "not-a-key-of-anyone-000", small, []string{"Content-Type", ctProto}, 401, "not recognised"},
		{"form content type", "/v1/logs", keyAcme, small, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "is not accepted at /v1/logs"},
		{"no content type", "/loki/api/v1/push", keyAcme, small, nil, 415, "Content-Type"},
		{"remote write 2.0", "/api/v1/push", keyAcme, small, []string{"Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"}, 415, "remote write 1.0"},
		{"unknown encoding", "/v1/logs", keyAcme, small, []string{"Content-Type", ctProto, "Content-Encoding", "br"}, 415, "Content-Encoding"},
		{"truncated protobuf", "/v1/logs", keyAcme, small[:len(small)-3], []string{"Content-Type", ctProto}, 400, "not a valid OTLP protobuf ExportLogsServiceRequest"},
		{"corrupt JSON", "/v1/logs", keyAcme, []byte("{\"resourceLogs\":[\n {]}"), []string{"Content-Type", ctJSON}, 400, "OTLP/JSON ExportLogsServiceRequest: line 2, column 3 (offset 20)"},
		{"wrong JSON type", "/v1/logs", keyAcme, []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"abc"}]}]}]}`), []string{"Content-Type", ctJSON}, 400, `parsing \"abc\"`},
		{"corrupt gzip", "/v1/logs", keyAcme, []byte("\x1f\x8b\x08garbage"), []string{"Content-Type", ctProto, "Content-Encoding", "gzip"}, 400, "gzip"},
		{"truncated gzip", "/v1/logs", keyAcme, gzipped(small)[:20], []string{"Content-Type", ctProto, "Content-Encoding", "gzip"}, 400, "gzip body is corrupt or truncated"},
		{"raw too large", "/v1/logs", keyAcme, make([]byte, 5000), []string{"Content-Type", ctProto}, 413, "max_request_bytes 4096"},
		{"snappy bomb", "/v1/logs", keyAcme, bomb, []string{"Content-Type", ctProto, "Content-Encoding", "snappy"}, 413, "declares 1073741824 decoded bytes"},
		{"gzip bomb", "/v1/logs", keyAcme, gzBomb, []string{"Content-Type", ctProto, "Content-Encoding", "gzip"}, 413, "max_decompressed_bytes"},
		{"loki snappy bomb", "/loki/api/v1/push", keyAcme, bomb, []string{"Content-Type", ctProto}, 413, "declares 1073741824"},
		{"too many attributes", "/v1/logs", keyAcme, logsProto(t, testLogs(2, 5)), []string{"Content-Type", ctProto}, 400, "resourceLogs[0].scopeLogs[0].logRecords[0] has 6 attributes counted at every level (resource 1, scope 0, record 5), nested map keys and list elements included, over the tenant's max_attributes_per_record 4"},
		{"wrong path", "/v2/logs", keyAcme, small, []string{"Content-Type", ctProto}, 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(t, tt.path, tt.key, tt.body, tt.headers...)
			assert.Equal(t, tt.status, r.status, r.body)
			assert.Contains(t, r.body, tt.want)
		})
	}
	assert.Empty(t, tg.sink.all(), "nothing refused may reach the pipeline")
}

func TestGzipBombIsNotInflated(t *testing.T) {
	// globex has the default 64 MiB max_decompressed_bytes; a 1 GiB bomb
	// stops at the limit instead of being inflated whole.
	tg := startGateway(t, policyWith(t, "", "max_decompressed_bytes: 1048576"))
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	chunk := make([]byte, 1<<20)
	for range 256 {
		_, _ = zw.Write(chunk)
	}
	require.NoError(t, zw.Close())
	r := tg.post(t, "/v1/logs", keyGlobex, buf.Bytes(), "Content-Type", ctProto, "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, r.body)
	assert.Contains(t, r.body, "decompresses to more than the tenant's max_decompressed_bytes 1048576")
}

func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	tg := startGateway(t, policyWith(t, "records_per_second: 10", "bytes_per_second: 2000"))
	// acme: 10 records a second; 8 pass, the next 8 do not.
	r := tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(8, 0)), "Content-Type", ctProto)
	require.Equal(t, http.StatusOK, r.status, r.body)
	r = tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(8, 0)), "Content-Type", ctProto)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	assert.Equal(t, "1", r.retryAfter)
	assert.Contains(t, r.body, "records_per_second 10")
	// More than a second's worth can never pass: 413, not a retry loop.
	r = tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(11, 0)), "Content-Type", ctProto)
	if r.status != http.StatusTooManyRequests { // the bucket may still be empty
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, r.body)
	}
	// globex: bytes.
	big := logsProto(t, testLogs(30, 0))
	require.Less(t, len(big), 2000)
	r = tg.post(t, "/v1/logs", keyGlobex, big, "Content-Type", ctProto)
	require.Equal(t, http.StatusOK, r.status, r.body)
	r = tg.post(t, "/v1/logs", keyGlobex, big, "Content-Type", ctProto)
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	assert.NotEmpty(t, r.retryAfter)
	assert.Contains(t, r.body, "bytes_per_second 2000")

	refused := tg.g.counters.series(seriesKey{"acme", protoOTLP, signalLogs})
	assert.EqualValues(t, 3, refused.requests.Load())
	assert.EqualValues(t, 8, refused.records.Load())
}

func TestConcurrencyLimit(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_concurrent_requests: 1", ""))
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	// Hold the first request inside the pipeline.
	orig := tg.g.logs
	tg.g.logs = blockingLogs{next: orig, held: new(atomic.Bool), entered: entered, release: block}
	var wg sync.WaitGroup
	wg.Add(1)
	var first response
	go func() {
		defer wg.Done()
		first = tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(1, 0)), "Content-Type", ctProto)
	}()
	<-entered
	r := tg.post(t, "/v1/logs", keyAcme, logsProto(t, testLogs(1, 0)), "Content-Type", ctProto)
	assert.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	assert.Equal(t, "1", r.retryAfter)
	assert.Contains(t, r.body, "max_concurrent_requests")
	// Another tenant is not held back.
	r = tg.post(t, "/v1/logs", keyGlobex, logsProto(t, testLogs(1, 0)), "Content-Type", ctProto)
	assert.Equal(t, http.StatusOK, r.status, r.body)
	close(block)
	wg.Wait()
	assert.Equal(t, http.StatusOK, first.status, first.body)
}

func TestPipelineErrors(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	tg.sink.err = fmt.Errorf("queue full")
	r := tg.post(t, "/v1/logs", keyAcme, logsJSON(t, testLogs(1, 0)), "Content-Type", ctJSON)
	// A retryable pipeline error is the server's, never a 500.
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.NotEmpty(t, r.retryAfter)
}

func TestOTLPErrorIsAStatusInTheRequestEncoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))
	r := tg.post(t, "/v1/logs", keyAcme, []byte(`{"resourceLogs": 5}`), "Content-Type", ctJSON)
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.True(t, strings.HasPrefix(r.body, `{"code":3`), r.body)

	r = tg.post(t, "/v1/logs", keyAcme, []byte{0xff, 0xff}, "Content-Type", ctProto+"; charset=binary")
	require.Equal(t, http.StatusBadRequest, r.status)
	var st spb.Status
	require.NoError(t, proto.Unmarshal([]byte(r.body), &st))
	assert.EqualValues(t, codes.InvalidArgument, st.GetCode())
	assert.Contains(t, st.GetMessage(), "not a valid OTLP protobuf ExportLogsServiceRequest")
}
