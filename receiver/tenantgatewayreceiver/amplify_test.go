package tenantgatewayreceiver

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// The worst requests we could build for the memory that decoding them
// costs against their size, as OTLP/JSON log bodies of about size bytes.
// Each packs the most pdata structs into the fewest bytes: an empty
// object `{}` becomes a whole record, attribute or value.
var amplifiers = []struct {
	name  string
	build func(size int) []byte
}{
	{"tiny_records", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[`, `{}`, `]}]}]}`, n)
	}},
	{"wide_record_attributes", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[`, `{}`, `]}]}]}]}`, n)
	}},
	{"wide_kvlist", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"kvlistValue":{"values":[`, `{}`, `]}}}]}]}]}`, n)
	}},
	{"wide_array", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[`, `{}`, `]}}}]}]}]}`, n)
	}},
	// Kvlists 30 deep (about as deep as protobuf lets them), side by side.
	{"nested_kvlists", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"arrayValue":{"values":[`, nestedKvlist(30), `]}}}]}]}]}`, n)
	}},
	// For scale: ordinary records, a body and five string attributes.
	{"ordinary", func(n int) []byte {
		return repeated(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeLogs":[{"logRecords":[`,
			`{"timeUnixNano":"1700000000000000000","severityText":"INFO","body":{"stringValue":"GET /cart 200 in 12 ms for user 1234"},"attributes":[`+
				strings.Repeat(`{"key":"http.route","value":{"stringValue":"/cart"}},`, 4)+`{"key":"http.status","value":{"intValue":"200"}}]}`,
			`]}]}]}`, n)
	}},
}

// repeated is head, then item repeated with commas to about size bytes,
// then tail.
func repeated(head, item, tail string, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + len(item) + len(tail))
	b.WriteString(head + item)
	for b.Len()+len(tail) < size {
		b.WriteString("," + item)
	}
	b.WriteString(tail)
	return b.Bytes()
}

// nestedKvlist is a value of depth kvlists, each holding the next.
func nestedKvlist(depth int) string {
	return strings.Repeat(`{"kvlistValue":{"values":[{"key":"k","value":`, depth) + `{"stringValue":"x"}` + strings.Repeat(`}]}}`, depth)
}

// BenchmarkDecodeAmplification decodes each worst request, as OTLP/JSON and
// as the same data in protobuf, and reports the bytes allocated and the
// bytes still live after decoding per byte of request: the memory a request
// of the gateway's max_decompressed_bytes can cost.
//
//	go test -run '^$' -bench BenchmarkDecodeAmplification -benchtime 3x ./receiver/tenantgatewayreceiver/
func BenchmarkDecodeAmplification(b *testing.B) {
	const size = 4 << 20
	for _, a := range amplifiers {
		js := a.build(size)
		req := plogotlp.NewExportRequest()
		require.NoError(b, req.UnmarshalJSON(js))
		pb, err := req.MarshalProto()
		require.NoError(b, err)
		for _, enc := range []struct {
			name   string
			isJSON bool
			body   []byte
		}{{"json", true, js}, {"protobuf", false, pb}} {
			b.Run(a.name+"/"+enc.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(enc.body)))
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				live := uint64(0)
				for i := range b.N {
					pl, herr := decodeOTLP(signalLogs, enc.isJSON, enc.body)
					if herr != nil {
						b.Fatal(herr.msg)
					}
					if i == 0 {
						// What the decoded request holds while the pipeline has it.
						var m runtime.MemStats
						runtime.GC()
						runtime.ReadMemStats(&m)
						live = m.HeapAlloc - min(before.HeapAlloc, m.HeapAlloc)
					}
					runtime.KeepAlive(pl)
				}
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(enc.body)), "alloc-B/req-B")
				b.ReportMetric(float64(live)/float64(len(enc.body)), "live-B/req-B")
				b.ReportMetric(float64(len(enc.body)), "req-B")
			})
		}
	}
}
