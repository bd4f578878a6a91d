package tenantgatewayreceiver

// The schemas of Loki's PushRequest and remote write 1.0's WriteRequest
// for the protobuf cost check (protoScan), message fields only. A cost is
// what one element allocates, decoded by gogo-protobuf and converted to
// pdata (a Loki entry is a log record, a remote write sample a data
// point), measured by TestPromCostBoundsDecoding. A remote write series'
// labels are copied to each of its data points: that product is checked
// after the request is decoded, before it is converted
// (checkRemoteWriteFanOut).
var lokiPush, remoteWrite = promSchemas()

func promSchemas() (loki, rw protoRequest) {
	msg := func(cost int64, fields map[int]*protoMsg) *protoMsg {
		m := &protoMsg{cost: cost}
		for n, s := range fields {
			m.sub[n] = s
		}
		return m
	}

	// Loki: streams (labels, entries (timestamp, line, structuredMetadata,
	// parsed)). A stream's labels are a string the gateway parses into a
	// resource's attributes: perByte covers the smallest label, a="",
	// 5 bytes with its comma.
	labelPair := msg(lokiLabelPairCost, nil)
	entry := msg(lokiEntryCost, map[int]*protoMsg{1: msg(0, nil), 3: labelPair, 4: msg(lokiParsedPairCost, nil)})
	stream := msg(lokiStreamCost, map[int]*protoMsg{2: entry})
	stream.perByte[1] = lokiLabelByteCost
	loki = protoRequest{name: "Loki PushRequest protobuf", schema: msg(0, map[int]*protoMsg{1: stream}), factor: promCostFactor}

	// Remote write: timeseries (labels, samples, exemplars, histograms),
	// metadata. Native histograms are refused after decoding, but decoded
	// first: their spans and packed deltas count.
	label := msg(rwLabelCost, nil)
	span := msg(rwSpanCost, nil)
	histogram := msg(rwHistogramCost, map[int]*protoMsg{8: span, 11: span})
	histogram.varint[9], histogram.varint[12] = true, true // negative_deltas, positive_deltas
	// The same and the counts sent unpacked, an element each, and each
	// count of the oneofs (count, zero_count) a wrapper allocated again.
	for _, n := range []int{9, 10, 12, 13, 16} { // deltas, counts, custom_values
		histogram.elems[n] = packedVarintCost
	}
	for _, n := range []int{1, 2, 6, 7} { // count_int, count_float, zero_count_int, zero_count_float
		histogram.elems[n] = 24 // 16 measured
	}
	series := msg(rwSeriesCost, map[int]*protoMsg{
		1: label,
		2: msg(rwSampleCost, nil),
		3: msg(rwExemplarCost, map[int]*protoMsg{1: msg(rwExemplarLabel, nil)}),
		4: histogram,
	})
	rw = protoRequest{name: "remote write WriteRequest protobuf", schema: msg(0, map[int]*protoMsg{1: series, 3: msg(rwMetadataCost, nil)}), factor: promCostFactor}
	return loki, rw
}

// promCostFactor: a Loki or remote write body may cost at most this many
// times the tenant's max_decompressed_bytes to decode and convert, twice
// OTLP's: each element becomes a gogo-protobuf struct and then pdata, so
// ordinary requests cost more per byte (a Loki push of 2,000 access-log
// lines 17 times its size, remote write of one sample per series of five
// labels 20 times, its labels copied included).
const promCostFactor = 2 * protoCostFactor

// Costs per element, in bytes: what TestPromCostBoundsDecoding measured
// (under -race, where allocations are largest), rounded up by about a
// quarter. An empty element is 2 bytes on the wire: a remote write
// histogram allocates 1,645 bytes, over 800 times its size.
const (
	lokiStreamCost     = 640  // measured 688 with its 7 bytes of labels
	lokiEntryCost      = 768  // 630
	lokiLabelPairCost  = 128  // 96 (726 with its entry)
	lokiParsedPairCost = 64   // 32 (662 with its entry)
	lokiLabelByteCost  = 24   // 131 a label of 8 bytes
	rwSeriesCost       = 640  // 771 with its __name__
	rwLabelCost        = 256  // 204
	rwSampleCost       = 544  // 440
	rwExemplarCost     = 512  // 412
	rwExemplarLabel    = 448  // 352
	rwSpanCost         = 288  // 225
	rwHistogramCost    = 2048 // 1,645
	rwMetadataCost     = 608  // 484
	// rwAttributeCost is what one label costs copied to one data point
	// (TestRemoteWriteFanOutCostBoundsConversion: 59).
	rwAttributeCost = 96
	// rwResourceCost and rwMetricCost are what converting a series
	// allocates when it starts a resource (a job or instance not seen
	// before: its resource, scope and metric map) or a metric (a name not
	// seen in its resource), beyond what the series costs
	// (TestH26xRemoteWriteStaysWithinItsBudget: series each of a new job
	// allocated 1,974 bytes against 1,152 counted, of a new name 1,091
	// against 896, measured by TestH26xRemoteWriteConversionCosts).
	rwResourceCost = 1024
	rwMetricCost   = 256
)
