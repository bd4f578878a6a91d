package tenantgatewayreceiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// Prefixes that pdata's decoder reads and skips (or reads as a message),
// and that protowire, which the cost check scans with, calls malformed.
// The check used to stop counting at the first of them and let the body
// through, "the decoder refuses it": the decoder did not, and decoded
// everything after it uncounted (found by the hostile review of issue 18).
var lenientPrefixes = []struct {
	name   string
	prefix []byte
}{
	// Field 99 spelled 2^32+99: pdata reads a tag's field number as
	// int32(tag>>3), so the number wraps to 99, an unknown varint field.
	{"field_number_wraps", protowire.AppendVarint(protowire.AppendVarint(nil, uint64(1<<32+99)<<3|uint64(protowire.VarintType)), 0)},
	// An unknown varint field whose value has a tenth byte above 1: pdata
	// drops the overflow, protowire refuses it.
	{"varint_overflow", append(protowire.AppendTag(nil, 99, protowire.VarintType), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)},
	// A group opened as field 98 and closed as 97: pdata matches groups by
	// depth only.
	{"group_end_mismatch", append(protowire.AppendTag(nil, 98, protowire.StartGroupType), protowire.AppendTag(nil, 97, protowire.EndGroupType)...)},
}

// wrappedResourceLogs is a resource_logs (field 1) spelled as field
// 2^32+1, which pdata decodes as field 1 and protowire refuses.
func wrappedResourceLogs(inner []byte) []byte {
	return protowire.AppendBytes(protowire.AppendVarint(nil, uint64(1<<32+1)<<3|uint64(protowire.BytesType)), inner)
}

// TestProtoCostNotSkippedByLenientPrefix: a body that is refused as too
// large is refused whatever prefix pdata would skip: each prefix, put in
// front of it, must not open the way to decoding what was refused.
func TestProtoCostNotSkippedByLenientPrefix(t *testing.T) {
	const limit = 64 << 10
	records := emptyElements([]int{1, 2, 2}, limit/2) // 32 Ki empty records, 6 MiB of pdata
	require.NotNil(t, checkProtoCost(signalLogs, records, limit), "refused without a prefix")
	bodies := map[string][]byte{}
	for _, p := range lenientPrefixes {
		bodies[p.name] = append(append([]byte(nil), p.prefix...), records...)
	}
	// The whole body as one aliased resource_logs: no tag the scan reads.
	var inner []byte
	for range limit / 2 {
		inner = protowire.AppendBytes(protowire.AppendTag(inner, 2, protowire.BytesType), nil) // scope_logs
	}
	bodies["resource_logs_field_number_wraps"] = wrappedResourceLogs(inner)
	for name, body := range bodies {
		pl, herr := decodeOTLP(signalLogs, false, body)
		require.Nil(t, herr, "%s: pdata decodes the body", name)
		decoded := pl.logs.LogRecordCount() + pl.logs.ResourceLogs().Len()
		require.Positive(t, decoded, name)
		herr = checkProtoCost(signalLogs, body, limit)
		if assert.NotNil(t, herr, "%s: %d bytes pdata decodes to %d records or resources passed the cost check", name, len(body), decoded) {
			assert.Equal(t, http.StatusBadRequest, herr.status, name)
			assert.Equal(t, "invalid_protobuf", herr.reason, name)
			assert.Contains(t, herr.msg, "not a valid OTLP protobuf ExportLogsServiceRequest", name)
		}
	}
}

// TestProtoCostRefusesLenientPrefixOverHTTPAndGRPC: over OTLP/HTTP the
// body is refused with 400 and nothing reaches the pipeline; over gRPC the
// codec refuses it before the caller is known.
func TestProtoCostRefusesLenientPrefixOverHTTPAndGRPC(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 64KiB", ""), func(c *Config) {
		gc := configgrpc.NewDefaultServerConfig()
		gc.NetAddr.Endpoint = "127.0.0.1:0"
		gc.MaxRecvMsgSizeMiB = 1
		gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("tenantpolicy")})
		c.GRPC = configoptional.Some(gc)
	})
	body := append(append([]byte(nil), lenientPrefixes[0].prefix...), emptyElements([]int{1, 2, 2}, 30000)...)
	r := tg.post(t, "/v1/logs", keyAcme, body, "Content-Type", "application/x-protobuf")
	assert.Equal(t, http.StatusBadRequest, r.status, r.body)
	assert.Contains(t, r.body, "not a valid OTLP protobuf ExportLogsServiceRequest")

	conn, err := grpc.NewClient(tg.g.grpcAddr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-api-key", keyAcme)
	// 1 MiB of messages: 16 MiB is the codec's limit, and this costs ~100.
	grpcBody := append(append([]byte(nil), lenientPrefixes[0].prefix...), emptyElements([]int{1, 2, 2}, (1<<20-64)/2)...)
	var reply rawMessage
	err = conn.Invoke(ctx, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", rawMessage(grpcBody), &reply, grpc.ForceCodecV2(rawCodec{}))
	require.Error(t, err)
	assert.Contains(t, status.Convert(err).Message(), "not a valid OTLP protobuf ExportLogsServiceRequest")
	assert.Empty(t, tg.sink.all())
}

// rawMessage is a request sent as its bytes.
type rawMessage []byte

type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if p, ok := v.(*rawMessage); ok {
		v = *p
	}
	return mem.BufferSlice{mem.SliceBuffer(v.(rawMessage))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*rawMessage) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

var _ encoding.CodecV2 = rawCodec{}

// repeatedNumbers is a metrics request with k elements of a repeated
// number field sent unpacked (one tag each, as proto3 lets a sender do):
// field at the end of path, of wire type typ.
func repeatedNumbers(path []int, typ protowire.Type, k int) []byte {
	last := protowire.Number(path[len(path)-1])
	var b []byte
	for range k {
		b = protowire.AppendTag(b, last, typ)
		if typ == protowire.Fixed64Type {
			b = protowire.AppendFixed64(b, 1)
		} else {
			b = protowire.AppendVarint(b, 1)
		}
	}
	return emptyElementsAround(path[:len(path)-1], b)
}

// TestProtoCostCountsUnpackedNumbers: bucket counts and bounds sent
// unpacked are each a tag and a number on the wire that pdata appends to
// a slice, 42 bytes allocated per element here (21 times the 2 bytes of a
// varint count); the scan skipped them uncounted, so such a body cost more
// than 16 times its size and passed. The schema's cost must bound what
// decoding allocates for them too.
func TestProtoCostCountsUnpackedNumbers(t *testing.T) {
	const k1, k2 = 200000, 400000
	for _, tc := range []struct {
		name string
		path []int
		typ  protowire.Type
	}{
		{"exponential_bucket_counts", []int{1, 2, 2, 10, 1, 8, 2}, protowire.VarintType},
		{"histogram_bucket_counts", []int{1, 2, 2, 9, 1, 6}, protowire.Fixed64Type},
		{"histogram_explicit_bounds", []int{1, 2, 2, 9, 1, 7}, protowire.Fixed64Type},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b1, b2 := repeatedNumbers(tc.path, tc.typ, k1), repeatedNumbers(tc.path, tc.typ, k2)
			measured := float64(allocated(t, signalMetrics, b2)-allocated(t, signalMetrics, b1)) / (k2 - k1)
			model := float64(protoCost(signalMetrics, b2, 1<<62)-protoCost(signalMetrics, b1, 1<<62)) / (k2 - k1)
			t.Logf("%.0f bytes allocated per element, cost %.0f (%.0f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
		})
	}
}

// TestProtoCostCountsRepeatedStrings: an entity ref's id_keys and
// description_keys are repeated strings; an empty one is 2 bytes on the
// wire and a string header pdata appends to a slice, 88 bytes allocated
// each here (44 times its size). The scan skipped them uncounted.
func TestProtoCostCountsRepeatedStrings(t *testing.T) {
	const k1, k2 = 200000, 400000
	for _, tc := range []struct {
		name string
		path []int
	}{{"entity_id_keys", []int{1, 1, 3, 3}}, {"entity_description_keys", []int{1, 1, 3, 4}}} {
		t.Run(tc.name, func(t *testing.T) {
			b1, b2 := emptyElements(tc.path, k1), emptyElements(tc.path, k2)
			measured := float64(allocated(t, signalLogs, b2)-allocated(t, signalLogs, b1)) / (k2 - k1)
			model := float64(protoCost(signalLogs, b2, 1<<62)-protoCost(signalLogs, b1, 1<<62)) / (k2 - k1)
			t.Logf("%.0f bytes allocated per element, cost %.0f (%.0f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
			assert.LessOrEqual(t, model, 3*measured+64, "a cost far above what decoding allocates refuses honest requests")
		})
	}
}

// TestProtoCostCountsAnyValueScalars: each string, int or bytes value of
// an AnyValue is a wrapper pdata allocates, one per occurrence (a value
// may repeat its field, the last one wins): an empty bytes value is 2
// bytes on the wire and 24 allocated. The scan counted them 0.
func TestProtoCostCountsAnyValueScalars(t *testing.T) {
	const k1, k2 = 200000, 400000
	for _, f := range []struct {
		name string
		num  protowire.Number
		typ  protowire.Type
	}{{"string_value", 1, protowire.BytesType}, {"bool_value", 2, protowire.VarintType}, {"int_value", 3, protowire.VarintType},
		{"double_value", 4, protowire.Fixed64Type}, {"bytes_value", 7, protowire.BytesType}} {
		t.Run(f.name, func(t *testing.T) {
			body := func(k int) []byte {
				var b []byte
				for range k {
					b = protowire.AppendTag(b, f.num, f.typ)
					switch f.typ {
					case protowire.BytesType:
						b = protowire.AppendBytes(b, nil)
					case protowire.VarintType:
						b = protowire.AppendVarint(b, 1)
					default:
						b = protowire.AppendFixed64(b, 1)
					}
				}
				return emptyElementsAround([]int{1, 2, 2, 5}, b) // a log record's body
			}
			b1, b2 := body(k1), body(k2)
			measured := float64(allocated(t, signalLogs, b2)-allocated(t, signalLogs, b1)) / (k2 - k1)
			model := float64(protoCost(signalLogs, b2, 1<<62)-protoCost(signalLogs, b1, 1<<62)) / (k2 - k1)
			t.Logf("%.0f bytes allocated per value, cost %.0f (%.0f bytes on the wire)", measured, model, float64(len(b2)-len(b1))/(k2-k1))
			assert.GreaterOrEqual(t, model, measured, "the schema's cost must bound what decoding allocates")
		})
	}
}
