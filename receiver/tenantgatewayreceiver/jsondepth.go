package tenantgatewayreceiver

import "bytes"

// maxJSONDepth bounds how deep a JSON body may nest objects and arrays.
// pdata's protobuf decoder stops at 100 nested messages, which lets an OTLP
// request nest its JSON form at most about 155 levels; pdata's JSON decoder
// has no limit and recurses once per level, so 14 MB of nested kvlists grew
// a goroutine stack by hundreds of MB. 160 admits all protobuf admits.
const maxJSONDepth = 160

// A JSON object decodes into at most about jsonObjectCost bytes of pdata
// (a log record, or a key-value with its share of a doubling slice:
// BenchmarkDecodeAmplification measured up to 240), so a body of
// empty objects `{},{},...` costs up to 80 bytes per byte. A JSON body may
// cost at most jsonCostFactor times the tenant's max_decompressed_bytes;
// ordinary OTLP/JSON costs 3 to 11 times its size.
const (
	jsonObjectCost = 256
	jsonCostFactor = 16
)

// An array's plain values (numbers, strings, booleans, null) are not
// objects, but each decodes into a slice element with its share of the
// slice's doublings: a number or a count 42-44 bytes, a string (an entity
// ref's key) 88 (TestJSONPlainArrayCostBoundsDecoding). Uncounted, a body
// of `1,1,1...` in bucket counts cost 21 times its size and one of `"",`
// in id keys 29, over jsonCostFactor and outside max_in_flight_bytes
// (hostile review h26x). Arrays OTLP fills with numbers are counted at
// jsonNumberCost per value, those it fills with strings at jsonStringCost.
//
// In any other array OTLP has messages, and pdata appends the message
// before it reads the value and finds it is not one, then goes on to the
// next: `1,1,1...` in spans cost 320 bytes a value, in exemplars 479, 240
// times its size (hostile review h27x,
// TestH27xJSONValuesWhereMessagesGoBoundDecoding). Such a value costs
// jsonMessageValueCost (542 bytes under -race in exemplars); no SDK
// sends one. An exemplar is the dearest
// message: an empty one 412 bytes, so objects in exemplars, and in an
// array whose key the pass cannot read as it is (escaped, which pdata
// reads, longer than any OTLP key, or none), cost jsonDearObjectCost.
const (
	jsonNumberCost       = 48
	jsonStringCost       = 96
	jsonMessageValueCost = 640
	jsonDearObjectCost   = 448
	jsonOddValueCost     = 320
)

// jsonNumberArrays are the OTLP/JSON keys whose arrays hold numbers (or
// 64-bit integers as strings), in both spellings pdata reads;
// jsonStringArrays those whose arrays hold strings.
var (
	jsonNumberArrays = map[string]bool{
		"bucketCounts": true, "bucket_counts": true,
		"explicitBounds": true, "explicit_bounds": true,
	}
	jsonStringArrays = map[string]bool{
		"idKeys": true, "id_keys": true,
		"descriptionKeys": true, "description_keys": true,
	}
)

// jsonArrayCosts is what a plain value and an object cost in the array
// whose key is key (ok: read as it is, with no escape).
func jsonArrayCosts(key []byte, ok bool) (value, object int64) {
	switch {
	case !ok || bytes.IndexByte(key, '\\') >= 0:
		return jsonMessageValueCost, jsonDearObjectCost
	case jsonNumberArrays[string(key)]:
		return jsonNumberCost, jsonObjectCost
	case jsonStringArrays[string(key)]:
		return jsonStringCost, jsonObjectCost
	case string(key) == "exemplars":
		return jsonMessageValueCost, jsonDearObjectCost
	}
	return jsonMessageValueCost, jsonObjectCost
}

// checkJSONDepth refuses a body whose objects and arrays nest deeper than
// max, before any decoder sees it.
func checkJSONDepth(body []byte, max int) *httpError {
	_, herr := scanJSON(body, max, false)
	return herr
}

// scanJSON is what body's objects (and, with plain, its arrays' plain
// values: OTLP's; a Loki push's arrays are lokiJSONCost's) would cost to
// decode, and refuses it when objects and arrays nest deeper than max: one
// pass over the bytes, skipping strings, with no allocation.
func scanJSON(body []byte, max int, plain bool) (cost int64, herr *httpError) {
	depth := 0
	// arrays holds a bit per level, set where the level is an array;
	// valueCost is what a plain value costs in the arrays open at each
	// level (the innermost one's for the level it opened).
	var arrays [maxJSONDepth/64 + 1]uint64
	var valueCost, objectCost [maxJSONDepth + 1]int64
	lastColon, prev := -1, -1
	jsonStructure(body, func(c byte, i int) bool {
		after := prev // the structural byte before this one
		prev = i
		switch c {
		case '{', '[':
			depth++
			if depth > max {
				line, col := lineCol(body, int64(i))
				herr = errBadRequest("too_deep", "JSON body nests objects and arrays deeper than %d levels (line %d, column %d, offset %d); flatten the data",
					max, line, col, i)
				return false
			}
			if !plain || depth > maxJSONDepth {
				// Only a check deeper than the gateway's (a test's) gets
				// here; its cost is not the gateway's.
				break
			}
			word, bit := depth/64, uint64(1)<<(depth%64)
			if c == '{' {
				if up := depth - 1; up > 0 && arrays[up/64]&(uint64(1)<<(up%64)) != 0 {
					cost += objectCost[up]
				} else {
					cost += jsonObjectCost
				}
				arrays[word] &^= bit
				break
			}
			arrays[word] |= bit
			// Only an array opened right after its key's colon has a key:
			// read for any other, the whitespace after the colon would be
			// read again for each (a body of it then `[],[],...` took 30 s
			// a MiB: BenchmarkH27xScanJSONWhitespace, hostile review h27x).
			var key []byte
			ok := false
			if after == lastColon {
				key, ok = keyBefore(body, lastColon, i)
			}
			valueCost[depth], objectCost[depth] = jsonArrayCosts(key, ok)
			cost += plainValueAt(body, i+1, valueCost[depth])
		case ',':
			if plain && depth > 0 && depth <= maxJSONDepth && arrays[depth/64]&(uint64(1)<<(depth%64)) != 0 {
				cost += plainValueAt(body, i+1, valueCost[depth])
			}
		case ':':
			lastColon = i
		case '}', ']':
			// A stray closer is invalid JSON the decoder refuses, but it must
			// not buy depth for the brackets after it.
			if depth > 0 {
				depth--
			}
		}
		return true
	})
	return cost, herr
}

// plainValueAt is what the value starting at body[i] (after whitespace)
// costs in an array whose plain values cost cost: 0 for an object, an
// array or the end of an empty array. A value OTLP does not put in a
// number or string array (null, true, a bare '-', a number among entity
// keys) costs at least jsonOddValueCost: pdata fails to read each, a
// number's error allocating, and goes on (`-` in bucket counts 206 bytes,
// null 147, a number in id keys 125; hostile review h27x).
func plainValueAt(body []byte, i int, cost int64) int64 {
	for ; i < len(body); i++ {
		c := body[i]
		switch {
		case jsonSpace(c):
			continue
		case c == '{' || c == '[' || c == ']':
			return 0
		case c == '"' && (cost == jsonNumberCost || cost == jsonStringCost):
			return cost
		case cost == jsonNumberCost && (isDigit(c) || c == '-' && i+1 < len(body) && isDigit(body[i+1])):
			return cost
		}
		return max(cost, jsonOddValueCost)
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// jsonSpace reports whether c is JSON whitespace.
func jsonSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// keyBefore is the object key whose value is the array opened at
// body[open], if the colon at body[colon] is just before it: the key's
// bytes as they are, in body, escapes not undone (an escaped key is no
// known key).
func keyBefore(body []byte, colon, open int) ([]byte, bool) {
	if colon < 0 || colon >= open {
		return nil, false
	}
	for j := colon + 1; j < open; j++ {
		if !jsonSpace(body[j]) {
			return nil, false
		}
	}
	end := colon - 1
	for end >= 0 && jsonSpace(body[end]) {
		end--
	}
	if end < 1 || body[end] != '"' {
		return nil, false
	}
	start := end - 1
	for start >= 0 && body[start] != '"' {
		if end-start > 32 { // longer than any known key
			return nil, false
		}
		start--
	}
	if start < 0 {
		return nil, false
	}
	return body[start+1 : end], true
}

// jsonStructure calls each with every byte of b outside its strings that
// gives the JSON its shape ('{', '[', '}', ']', ':', ',') and its offset, until
// each returns false: the one reader of a body's shape before any decoder
// (its nesting, its objects, a Loki push's cost and repeated keys). An
// escaped byte never ends a string.
func jsonStructure(b []byte, each func(c byte, at int) bool) {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case '{', '[', '}', ']', ':', ',':
			if !each(c, i) {
				return
			}
		}
	}
}

// checkJSONCost refuses, before it is decoded, a JSON body whose objects
// (and, with plain, arrays' plain values) would cost more than
// jsonCostFactor times maxDecoded bytes of memory, and returns what they
// cost.
func checkJSONCost(body []byte, maxDecoded int64, plain bool) (int64, *httpError) {
	cost, herr := scanJSON(body, maxJSONDepth, plain)
	if herr != nil {
		return 0, herr
	}
	if maxDecoded > 0 && cost > jsonCostFactor*maxDecoded {
		return 0, errTooLarge("JSON body's objects and array values, which would take about %d MiB to decode, are over %d times the tenant's max_decompressed_bytes %d; split the request",
			cost>>20, jsonCostFactor, maxDecoded)
	}
	return cost, nil
}
