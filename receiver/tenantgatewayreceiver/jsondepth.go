package tenantgatewayreceiver

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

// checkJSONDepth refuses a body whose objects and arrays nest deeper than
// max, before any decoder sees it.
func checkJSONDepth(body []byte, max int) *httpError {
	_, herr := scanJSON(body, max)
	return herr
}

// scanJSON counts body's objects and refuses it when objects and arrays
// nest deeper than max: one pass over the bytes, skipping strings, with no
// allocation.
func scanJSON(body []byte, max int) (objects int, herr *httpError) {
	depth := 0
	jsonStructure(body, func(c byte, i int) bool {
		switch c {
		case '{', '[':
			if c == '{' {
				objects++
			}
			depth++
			if depth > max {
				line, col := lineCol(body, int64(i))
				herr = errBadRequest("too_deep", "JSON body nests objects and arrays deeper than %d levels (line %d, column %d, offset %d); flatten the data",
					max, line, col, i)
				return false
			}
		case '}', ']':
			// A stray closer is invalid JSON the decoder refuses, but it must
			// not buy depth for the brackets after it.
			if depth > 0 {
				depth--
			}
		}
		return true
	})
	return objects, herr
}

// jsonStructure calls each with every byte of b outside its strings that
// gives the JSON its shape ('{', '[', '}', ']', ':') and its offset, until
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
		case '{', '[', '}', ']', ':':
			if !each(c, i) {
				return
			}
		}
	}
}

// checkJSONCost refuses, before it is decoded, a JSON body whose objects
// would cost more than jsonCostFactor times maxDecoded bytes of memory,
// and returns what they cost.
func checkJSONCost(body []byte, maxDecoded int64) (int64, *httpError) {
	objects, herr := scanJSON(body, maxJSONDepth)
	if herr != nil {
		return 0, herr
	}
	cost := int64(objects) * jsonObjectCost
	if maxDecoded > 0 && cost > jsonCostFactor*maxDecoded {
		return 0, errTooLarge("JSON body holds %d objects, which would take about %d MiB to decode, over %d times the tenant's max_decompressed_bytes %d; split the request",
			objects, cost>>20, jsonCostFactor, maxDecoded)
	}
	return cost, nil
}
