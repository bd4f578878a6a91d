package tenantgatewayreceiver

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// protoMsg is what the cost check knows of one OTLP message type: the
// memory pdata allocates for one of it (the struct, its share of the
// slice that holds it, with the slice's doublings), which of its fields
// are messages, and which are packed varints (one byte on the wire, an
// 8-byte integer in a slice grown by appending). Everything else (scalars, strings, bytes) costs at most its
// own size, which the body's size limit already bounds, but for the
// scalars that cost an allocation each time they occur (elems, their
// cost each): the elements of repeated numbers sent unpacked, a tag and
// a number each, and of repeated strings, each a header in a slice grown
// by appending, and an AnyValue's scalar values, each in a wrapper.
type protoMsg struct {
	cost   int64
	sub    [17]*protoMsg // by field number; the message fields of OTLP, Loki push and remote write are all below 17
	varint [17]bool
	elems  [17]int64
	// perByte is what each byte of a string field costs where the
	// receiver parses the string into more (a Loki stream's labels).
	perByte [17]int64
}

// protoRequest is a request message the gateway decodes: its name, as
// errors give it ("OTLP protobuf ExportLogsServiceRequest"), and its
// schema.
type protoRequest struct {
	name   string
	schema *protoMsg
	// factor: a body may cost at most this many times the tenant's
	// max_decompressed_bytes.
	factor int64
}

// otlpProto is the OTLP export request of signal.
func otlpProto(signal string) protoRequest {
	return protoRequest{name: "OTLP protobuf " + otlpRequestName(signal), schema: protoSchema(signal), factor: protoCostFactor}
}

// protoCostFactor: a protobuf body may cost at most this many times the
// tenant's max_decompressed_bytes to decode, as JSON may (jsonCostFactor).
// Ordinary OTLP protobuf costs 4 to 6 times its size
// (BenchmarkDecodeAmplification/ordinary); a body of empty messages, 2
// bytes each, costs up to 100 times.
const protoCostFactor = jsonCostFactor

// packedVarintCost is what one byte of packed varints costs: an 8-byte
// integer, in a slice grown by appending; it is also the cost of one
// element of a repeated number sent unpacked (42 bytes measured, 21 times
// a 2-byte varint count on the wire).
const packedVarintCost = 48

// repeatedStringCost is what one element of a repeated string costs
// besides its bytes: its header in a slice grown by appending (88 bytes
// measured for an empty one, 2 bytes on the wire).
const repeatedStringCost = 96

// maxProtoDepth bounds the scan's recursion; pdata's decoder refuses a
// message nested deeper than 100, so the bodies scanned no deeper are
// refused by the decoder anyway.
const maxProtoDepth = 128

// The OTLP schemas (opentelemetry-proto v1), message fields only. Costs
// are allocated bytes per element of an empty element's body, measured by
// TestProtoCostBoundsDecoding, which fails when pdata allocates more than
// a cost here says.
var protoLogs, protoMetrics, protoTraces = otlpSchemas()

func otlpSchemas() (logs, metrics, traces *protoMsg) {
	msg := func(cost int64, fields map[int]*protoMsg) *protoMsg {
		m := &protoMsg{cost: cost}
		for n, s := range fields {
			m.sub[n] = s
		}
		return m
	}
	anyValue, kv := &protoMsg{cost: 160}, &protoMsg{cost: 240}
	// Each scalar value is a wrapper pdata allocates per occurrence (a
	// value may repeat its field): string, bool, int, double, bytes; at
	// least 16 bytes each where the tiny allocator is off (-race).
	anyValue.elems[1], anyValue.elems[2], anyValue.elems[3], anyValue.elems[4], anyValue.elems[7] = 16, 16, 16, 16, 24
	anyValue.sub[5] = msg(64, map[int]*protoMsg{1: anyValue}) // array_value
	anyValue.sub[6] = msg(64, map[int]*protoMsg{1: kv})       // kvlist_value
	kv.sub[2] = anyValue
	scope := msg(96, map[int]*protoMsg{3: kv})
	entityRef := msg(160, nil)
	entityRef.elems[3], entityRef.elems[4] = repeatedStringCost, repeatedStringCost // id_keys, description_keys
	resource := msg(96, map[int]*protoMsg{1: kv, 3: entityRef})                     // attributes, entity_refs
	resourceOf := func(scopeItems *protoMsg) *protoMsg {
		return msg(0, map[int]*protoMsg{1: msg(192, map[int]*protoMsg{1: resource, 2: msg(176, map[int]*protoMsg{1: scope, 2: scopeItems})})})
	}

	logs = resourceOf(msg(192, map[int]*protoMsg{5: anyValue, 6: kv}))

	status := msg(64, nil)
	event := msg(128, map[int]*protoMsg{3: kv})
	link := msg(160, map[int]*protoMsg{4: kv})
	traces = resourceOf(msg(320, map[int]*protoMsg{9: kv, 11: event, 13: link, 15: status}))

	exemplar := msg(448, map[int]*protoMsg{7: kv})
	number := msg(160, map[int]*protoMsg{7: kv, 5: exemplar})
	histogram := msg(224, map[int]*protoMsg{9: kv, 8: exemplar})
	histogram.elems[6], histogram.elems[7] = packedVarintCost, packedVarintCost // bucket_counts, explicit_bounds
	buckets := msg(64, nil)
	buckets.varint[2], buckets.elems[2] = true, packedVarintCost
	exponential := msg(256, map[int]*protoMsg{1: kv, 8: buckets, 9: buckets, 11: exemplar})
	summary := msg(160, map[int]*protoMsg{7: kv, 6: msg(64, nil)})
	metric := msg(192, map[int]*protoMsg{
		5:  msg(64, map[int]*protoMsg{1: number}),      // gauge
		7:  msg(64, map[int]*protoMsg{1: number}),      // sum
		9:  msg(64, map[int]*protoMsg{1: histogram}),   // histogram
		10: msg(64, map[int]*protoMsg{1: exponential}), // exponential_histogram
		11: msg(64, map[int]*protoMsg{1: summary}),     // summary
		12: kv,                                         // metadata
	})
	metrics = resourceOf(metric)
	return logs, metrics, traces
}

func protoSchema(signal string) *protoMsg {
	switch signal {
	case signalLogs:
		return protoLogs
	case signalMetrics:
		return protoMetrics
	default:
		return protoTraces
	}
}

// protoCost is the memory decoding body as an OTLP request of signal
// would allocate, by the schema's costs, counted until it passes limit
// (the scan stops there), or until a flaw (see protoScan).
func protoCost(signal string, body []byte, limit int64) int64 {
	cost, _ := protoScan(protoSchema(signal), body, limit)
	return cost
}

// protoScan is protoCost, and the first flaw the scan found: wire format
// it cannot read, or messages nested deeper than maxProtoDepth. A body
// with a flaw must be refused, not left to the decoder: pdata's decoder
// reads more than protowire does (a field number past 2^32 wraps to a
// small one, a varint's overflow is dropped, a group may end under
// another number), so what follows a flaw the scan stopped at can decode,
// uncounted.
func protoScan(schema *protoMsg, body []byte, limit int64) (int64, error) {
	c := protoCounter{limit: limit}
	c.scan(body, schema, 0)
	return c.cost, c.flaw
}

type protoCounter struct {
	cost, limit int64
	flaw        error
}

// malformed records the flaw at n, a protowire error code.
func (c *protoCounter) malformed(n int) bool {
	c.flaw = protowire.ParseError(n)
	return false
}

// scan counts the messages in b, a message of type m, depth levels down.
// It reports false once the body is found malformed or over the limit.
func (c *protoCounter) scan(b []byte, m *protoMsg, depth int) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return c.malformed(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return c.malformed(n)
			}
			b = b[n:]
			if num < protowire.Number(len(m.elems)) {
				if c.cost += m.elems[num]; c.cost > c.limit {
					return false
				}
			}
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return c.malformed(n)
		}
		b = b[n:]
		if num >= protowire.Number(len(m.sub)) {
			continue
		}
		switch {
		case m.varint[num]:
			c.cost += packedVarintCost * int64(len(v))
		case m.elems[num] > 0: // a string or bytes value, or numbers packed
			c.cost += m.elems[num]
		case m.perByte[num] > 0:
			c.cost += m.perByte[num] * int64(len(v))
		case m.sub[num] != nil:
			c.cost += m.sub[num].cost
			if c.cost > c.limit {
				return false
			}
			if depth >= maxProtoDepth {
				c.flaw = fmt.Errorf("messages nested deeper than %d", maxProtoDepth)
				return false
			}
			if !c.scan(v, m.sub[num], depth+1) {
				return false
			}
		}
		if c.cost > c.limit {
			return false
		}
	}
	return true
}

// checkProtoCost refuses, before it is decoded, a protobuf OTLP body whose
// messages would cost more than protoCostFactor times maxDecoded bytes of
// memory to decode.
func checkProtoCost(signal string, body []byte, maxDecoded int64) *httpError {
	_, herr := checkRequestCost(otlpProto(signal), body, maxDecoded)
	return herr
}

// checkRequestCost refuses, before it is decoded, a protobuf body of req
// whose messages would cost more than req.factor times maxDecoded bytes
// of memory to decode (and, for Loki and remote write, to convert), and
// returns what they cost. A body the scan cannot read is refused as the
// decoder would refuse it (see protoScan).
func checkRequestCost(req protoRequest, body []byte, maxDecoded int64) (int64, *httpError) {
	if maxDecoded <= 0 {
		return 0, nil
	}
	limit := req.factor * maxDecoded
	cost, flaw := protoScan(req.schema, body, limit)
	if cost > limit {
		return 0, errTooLarge("protobuf body of %d bytes holds so many messages that decoding it would take over %d MiB, more than %d times the tenant's max_decompressed_bytes %d; split the request",
			len(body), limit>>20, req.factor, maxDecoded)
	}
	if flaw != nil {
		return 0, errBadRequest("invalid_protobuf", "body is not a valid %s: %v", req.name, flaw)
	}
	return cost, nil
}

// otlpRequestName is the OTLP request message of signal, as errors name it.
func otlpRequestName(signal string) string {
	switch signal {
	case signalLogs:
		return "ExportLogsServiceRequest"
	case signalMetrics:
		return "ExportMetricsServiceRequest"
	default:
		return "ExportTraceServiceRequest"
	}
}
