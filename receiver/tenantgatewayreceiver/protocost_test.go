package tenantgatewayreceiver

import (
	"bytes"
	"math"
	"net/http"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// emptyElements is a request of k empty messages at path (field numbers
// from the request down), each outer level once: the cheapest body on
// the wire for what it makes pdata allocate.
func emptyElements(path []int, k int) []byte {
	last := protowire.Number(path[len(path)-1])
	var b []byte
	for range k {
		b = protowire.AppendTag(b, last, protowire.BytesType)
		b = protowire.AppendBytes(b, nil)
	}
	for i := len(path) - 2; i >= 0; i-- {
		b = protowire.AppendBytes(protowire.AppendTag(nil, protowire.Number(path[i]), protowire.BytesType), b)
	}
	return b
}

// packedVarints is an exponential histogram point whose positive buckets
// hold k one-byte counts.
func packedVarints(k int) []byte {
	counts := bytes.Repeat([]byte{1}, k)
	b := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), counts)
	for _, n := range []int{8, 1, 10, 2, 2, 1} { // positive, data_points, exponential_histogram, metrics, scope_metrics, resource_metrics
		b = protowire.AppendBytes(protowire.AppendTag(nil, protowire.Number(n), protowire.BytesType), b)
	}
	return b
}

var costPaths = []struct {
	signal string
	name   string
	path   []int
}{
	{signalLogs, "resource_logs", []int{1}},
	{signalLogs, "resource_attributes", []int{1, 1, 1}},
	{signalLogs, "entity_refs", []int{1, 1, 3}},
	{signalLogs, "scope_logs", []int{1, 2}},
	{signalLogs, "scope_attributes", []int{1, 2, 1, 3}},
	{signalLogs, "log_records", []int{1, 2, 2}},
	{signalLogs, "record_attributes", []int{1, 2, 2, 6}},
	{signalLogs, "array_values", []int{1, 2, 2, 5, 5, 1}},
	{signalLogs, "kvlist_values", []int{1, 2, 2, 5, 6, 1}},
	{signalTraces, "spans", []int{1, 2, 2}},
	{signalTraces, "span_attributes", []int{1, 2, 2, 9}},
	{signalTraces, "events", []int{1, 2, 2, 11}},
	{signalTraces, "event_attributes", []int{1, 2, 2, 11, 3}},
	{signalTraces, "links", []int{1, 2, 2, 13}},
	{signalTraces, "link_attributes", []int{1, 2, 2, 13, 4}},
	{signalMetrics, "metrics", []int{1, 2, 2}},
	{signalMetrics, "metric_metadata", []int{1, 2, 2, 12}},
	{signalMetrics, "gauge_points", []int{1, 2, 2, 5, 1}},
	{signalMetrics, "sum_points", []int{1, 2, 2, 7, 1}},
	{signalMetrics, "histogram_points", []int{1, 2, 2, 9, 1}},
	{signalMetrics, "exponential_points", []int{1, 2, 2, 10, 1}},
	{signalMetrics, "summary_points", []int{1, 2, 2, 11, 1}},
	{signalMetrics, "quantiles", []int{1, 2, 2, 11, 1, 6}},
	{signalMetrics, "exemplars", []int{1, 2, 2, 5, 1, 5}},
	{signalMetrics, "exemplar_attributes", []int{1, 2, 2, 5, 1, 5, 7}},
	{signalMetrics, "point_attributes", []int{1, 2, 2, 7, 1, 7}},
}

// allocated is the bytes decoding body allocates.
//
// TotalAlloc counts every goroutine's allocations, and another's (a
// component a test left running, the runtime) only ever adds to the
// decode's own, so the least of three decodes is taken: a single reading
// once came out 224 bytes over 200,000 values' exact 24 each and failed
// TestProtoCostCountsAnyValueScalars/bytes_value under CI's load.
func allocated(t *testing.T, signal string, body []byte) int64 {
	least := int64(math.MaxInt64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		pl, herr := decodeOTLP(signal, false, body)
		runtime.ReadMemStats(&after)
		require.Nil(t, herr)
		runtime.KeepAlive(pl)
		least = min(least, int64(after.TotalAlloc-before.TotalAlloc))
	}
	return least
}

// TestProtoCostBoundsDecoding: for every repeated message of the three
// OTLP requests, and for packed varints, the schema's cost of one more
// empty element is at least what pdata allocates to decode it (measured
// between 20,000 and 40,000 elements, so the fixed part cancels out).
func TestProtoCostBoundsDecoding(t *testing.T) {
	const k1, k2 = 20000, 40000
	check := func(t *testing.T, signal string, b1, b2 []byte) {
		measured := float64(allocated(t, signal, b2)-allocated(t, signal, b1)) / (k2 - k1)
		model := float64(protoCost(signal, b2, 1<<62)-protoCost(signal, b1, 1<<62)) / (k2 - k1)
		t.Logf("%.0f bytes allocated per element, cost %.0f (%.0f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
		assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
		assert.LessOrEqual(t, model, 3*measured+64, "a cost far above what decoding allocates refuses honest requests")
	}
	for _, p := range costPaths {
		t.Run(p.signal+"/"+p.name, func(t *testing.T) {
			check(t, p.signal, emptyElements(p.path, k1), emptyElements(p.path, k2))
		})
	}
	t.Run("metrics/packed_bucket_counts", func(t *testing.T) {
		check(t, signalMetrics, packedVarints(k1), packedVarints(k2))
	})
}

// TestProtoBodyOfEmptyMessagesIsRefusedBeforeDecoding: 4 MiB of empty log
// records, spans or data points would allocate far more than 16 times a 4
// MiB limit; the check refuses each, while the same size of ordinary
// records passes.
func TestProtoBodyOfEmptyMessagesIsRefusedBeforeDecoding(t *testing.T) {
	const limit = 4 << 20
	for _, p := range []struct{ signal, name string }{{signalLogs, "log_records"}, {signalTraces, "spans"}, {signalMetrics, "gauge_points"}, {signalLogs, "record_attributes"}} {
		for _, cp := range costPaths {
			if cp.signal == p.signal && cp.name == p.name {
				body := emptyElements(cp.path, limit/2)
				herr := checkProtoCost(p.signal, body, limit)
				require.NotNil(t, herr, p.name)
				assert.Equal(t, http.StatusRequestEntityTooLarge, herr.status)
				assert.Equal(t, "too_large", herr.reason)
				assert.Contains(t, herr.msg, "split the request")
			}
		}
	}
	for _, a := range amplifiers {
		req := plogotlp.NewExportRequest()
		require.NoError(t, req.UnmarshalJSON(a.build(limit)))
		pb, err := req.MarshalProto()
		require.NoError(t, err)
		herr := checkProtoCost(signalLogs, pb, int64(max(len(pb), limit)))
		if a.name == "ordinary" || a.name == "nested_kvlists" {
			assert.Nil(t, herr, "%s: %d bytes", a.name, len(pb))
		} else {
			assert.NotNil(t, herr, "%s: %d bytes", a.name, len(pb))
		}
	}
}

// TestProtoCostOfMalformedBodies: truncated, garbage and over-deep bodies
// end the scan without a panic; the decoder gives the reason.
func TestProtoCostOfMalformedBodies(t *testing.T) {
	body := emptyElements([]int{1, 2, 2}, 100)
	for i := range body {
		_ = protoCost(signalLogs, body[:i], 1<<30)
	}
	_ = protoCost(signalTraces, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<30)
	deep := []byte{}
	for range 10000 { // any_value → kvlist → key_value → any_value ...
		deep = protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), deep)
		deep = protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), deep)
		deep = protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), deep)
	}
	assert.Less(t, protoCost(signalLogs, emptyElementsAround([]int{1, 2, 2, 5}, deep), 1<<30), int64(1<<30))
}

// emptyElementsAround wraps inner in path, each level once.
func emptyElementsAround(path []int, inner []byte) []byte {
	b := inner
	for i := len(path) - 1; i >= 0; i-- {
		b = protowire.AppendBytes(protowire.AppendTag(nil, protowire.Number(path[i]), protowire.BytesType), b)
	}
	return b
}

// TestProtoThatWouldDecodeTooLargeIsRefused: over OTLP/HTTP, the
// amplifiers of amplify_test.go as protobuf are refused with 413 and the
// reason before decoding; ordinary records of the same size pass.
func TestProtoThatWouldDecodeTooLargeIsRefused(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""))
	for _, a := range amplifiers {
		var pb []byte
		for size := 1 << 20; len(pb) == 0 || len(pb) > 1<<20-1024; size = size * 9 / 10 {
			// the same kind of records, fewer, until under the size limit
			req := plogotlp.NewExportRequest()
			require.NoError(t, req.UnmarshalJSON(a.build(size)))
			var err error
			pb, err = req.MarshalProto()
			require.NoError(t, err)
		}
		r := tg.post(t, "/v1/logs", keyAcme, pb, "Content-Type", "application/x-protobuf")
		if a.name == "ordinary" || a.name == "nested_kvlists" {
			assert.Equal(t, http.StatusOK, r.status, "%s: %s", a.name, r.body)
			continue
		}
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, "%s (%d bytes): %s", a.name, len(pb), r.body)
		assert.Contains(t, r.body, "more than 16 times the tenant's max_decompressed_bytes 1048576", a.name)
	}
	assert.Len(t, tg.sink.all(), 2)
	assert.EqualValues(t, 4, tg.g.counters.series(seriesKey{"acme", protoOTLP, signalLogs}).refused.Get("too_large").Load())
}

// TestGRPCMessageThatWouldDecodeTooLargeIsRefused: over OTLP/gRPC the
// check runs in the server's codec, before grpc-go decodes the message and
// before the caller is known: an export of empty records just under
// max_recv_msg_size_mib is refused with the reason, counted for
// _unauthenticated, and nothing reaches the pipeline.
func TestGRPCMessageThatWouldDecodeTooLargeIsRefused(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""), func(c *Config) {
		gc := configgrpc.NewDefaultServerConfig()
		gc.NetAddr.Endpoint = "127.0.0.1:0"
		gc.MaxRecvMsgSizeMiB = 1
		gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("tenantpolicy")})
		c.GRPC = configoptional.Some(gc)
	})
	conn, err := grpc.NewClient(tg.g.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	client := plogotlp.NewGRPCClient(conn)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", keyAcme)

	ld := plog.NewLogs()
	recs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	size := func() int { return (&plog.ProtoMarshaler{}).LogsSize(ld) }
	recs.AppendEmpty()
	one := size()
	recs.AppendEmpty()
	each := size() - one
	for range (1<<20-64-size())/each - 1 {
		recs.AppendEmpty()
	}
	require.Less(t, size(), 1<<20)
	_, err = client.Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	require.Error(t, err)
	assert.Contains(t, status.Convert(err).Message(), "split the request")
	assert.EqualValues(t, 1, tg.g.counters.series(seriesKey{unauthenticatedTenant, protoOTLPGRPC, signalLogs}).refused.Get("too_large").Load())

	_, err = client.Export(ctx, plogotlp.NewExportRequestFromLogs(testLogs(100, 1)))
	require.NoError(t, err, "ordinary records pass the codec")
	require.Len(t, tg.sink.all(), 1)
	assert.Equal(t, 100, tg.sink.all()[0].logs.LogRecordCount())
}

// FuzzProtoCost: any bytes, as any signal, end the scan without a panic;
// a scan that stops at a limit has counted past it, and one without a
// limit counts at least as much.
func FuzzProtoCost(f *testing.F) {
	f.Add(emptyElements([]int{1, 2, 2}, 50))
	f.Add(emptyElements([]int{1, 2, 2, 5, 1, 5, 7}, 20))
	f.Add(packedVarints(30))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, signal := range []string{signalLogs, signalMetrics, signalTraces} {
			all := protoCost(signal, body, 1<<62)
			if cut := protoCost(signal, body, 500); cut > all || (all > 500 && cut <= 500) {
				t.Fatalf("%s: cost %d with a limit of 500, %d without", signal, cut, all)
			}
		}
	})
}

// BenchmarkProtoCost: the cost check against the decoding it guards, on
// 4 MiB of ordinary records as protobuf (benchstat -col /step).
func BenchmarkProtoCost(b *testing.B) {
	var ordinary func(int) []byte
	for _, a := range amplifiers {
		if a.name == "ordinary" {
			ordinary = a.build
		}
	}
	req := plogotlp.NewExportRequest()
	require.NoError(b, req.UnmarshalJSON(ordinary(4<<20)))
	pb, err := req.MarshalProto()
	require.NoError(b, err)
	b.Run("step=check", func(b *testing.B) {
		b.SetBytes(int64(len(pb)))
		for b.Loop() {
			if herr := checkProtoCost(signalLogs, pb, 4<<20); herr != nil {
				b.Fatal(herr.msg)
			}
		}
	})
	b.Run("step=decode", func(b *testing.B) {
		b.SetBytes(int64(len(pb)))
		for b.Loop() {
			if _, herr := decodeOTLP(signalLogs, false, pb); herr != nil {
				b.Fatal(herr.msg)
			}
		}
	})
}
