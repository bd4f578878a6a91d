package tenantgatewayreceiver

// maxJSONDepth bounds how deep a JSON body may nest objects and arrays.
// pdata's protobuf decoder stops at 100 nested messages, which lets an OTLP
// request nest its JSON form at most about 155 levels; pdata's JSON decoder
// has no limit and recurses once per level, so 14 MB of nested kvlists grew
// a goroutine stack by hundreds of MB. 160 admits all protobuf admits.
const maxJSONDepth = 160

// checkJSONDepth refuses a body whose objects and arrays nest deeper than
// max, before any decoder sees it: one pass over the bytes, skipping
// strings, with no allocation.
func checkJSONDepth(body []byte, max int) *httpError {
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			// Skip the string: an escaped byte never ends it.
			for i++; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
			if depth > max {
				line, col := lineCol(body, int64(i))
				return errBadRequest("too_deep", "JSON body nests objects and arrays deeper than %d levels (line %d, column %d, offset %d); flatten the data",
					max, line, col, i)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}
