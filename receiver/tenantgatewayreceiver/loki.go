package tenantgatewayreceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Label bounds of Loki's and Mimir's default limits.
const (
	maxLabelNameLength  = 1024
	maxLabelValueLength = 2048
)

func lokiRoute() *route {
	return &route{
		path: "/loki/api/v1/push", protocol: protoLoki, signal: signalLogs,
		mediaTypes:     []string{mediaProtobuf, mediaJSON},
		implicitSnappy: func(mt string) bool { return mt == mediaProtobuf },
		proto:          func() protoRequest { return lokiPush },
		decode: func(mt string, body []byte, lim decodeLimits) (payload, *httpError) {
			var (
				logs plog.Logs
				err  error
			)
			if mt == mediaJSON {
				logs, err = decodeLokiJSON(body, lim)
			} else {
				logs, err = decodeLokiProto(body, lim)
			}
			var tooCostly *lokiCostError
			if errors.As(err, &tooCostly) {
				return payload{}, errTooLarge("%v", err)
			}
			if err != nil {
				reason := "invalid_protobuf"
				if mt == mediaJSON {
					reason = "invalid_json"
				}
				return payload{}, errBadRequest(reason, "%v", err)
			}
			return payload{signal: signalLogs, logs: logs}, nil
		},
		respond: noContent,
	}
}

// decodeLokiProto converts a Loki PushRequest (already snappy-decoded):
// each stream becomes a resource with its labels as attributes, each entry
// a log record with its line as body, its timestamp kept and its
// structured metadata as attributes. A label set (a stream's labels, an
// entry's metadata) over lim's count, or naming a label twice, is refused
// before it is built.
func decodeLokiProto(body []byte, lim decodeLimits) (plog.Logs, error) {
	var req push.PushRequest
	if err := req.Unmarshal(body); err != nil {
		return plog.Logs{}, fmt.Errorf("body is not a valid Loki PushRequest protobuf: %w", err)
	}
	logs := plog.NewLogs()
	now := pcommon.NewTimestampFromTime(time.Now())
	for i, s := range req.Streams {
		labels, err := parseLokiLabels(s.Labels)
		if err != nil {
			return plog.Logs{}, fmt.Errorf("streams[%d].labels: %w", i, err)
		}
		sortLabels(labels)
		records, err := newLokiStream(logs, labels, lim)
		if err != nil {
			return plog.Logs{}, fmt.Errorf("streams[%d].labels: %w", i, err)
		}
		for j, e := range s.Entries {
			lr := records.AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Timestamp))
			lr.SetObservedTimestamp(now)
			lr.Body().SetStr(e.Line)
			if err := lim.checkLabelCount(len(e.StructuredMetadata)); err != nil {
				return plog.Logs{}, fmt.Errorf("streams[%d].entries[%d].structuredMetadata: %w", i, j, err)
			}
			for _, l := range e.StructuredMetadata {
				err := checkLabel(l.Name, l.Value)
				if err == nil {
					err = putLabel(lr.Attributes(), l.Name, l.Value)
				}
				if err != nil {
					return plog.Logs{}, fmt.Errorf("streams[%d].entries[%d].structuredMetadata: %w", i, j, err)
				}
			}
		}
	}
	return logs, nil
}

// newLokiStream is a resource with labels as its attributes, and its
// records.
func newLokiStream(logs plog.Logs, labels [][2]string, lim decodeLimits) (plog.LogRecordSlice, error) {
	if err := lim.checkLabelCount(len(labels)); err != nil {
		return plog.LogRecordSlice{}, err
	}
	rl := logs.ResourceLogs().AppendEmpty()
	attrs := rl.Resource().Attributes()
	attrs.EnsureCapacity(len(labels))
	for _, l := range labels {
		if err := putLabel(attrs, l[0], l[1]); err != nil {
			return plog.LogRecordSlice{}, err
		}
	}
	return rl.ScopeLogs().AppendEmpty().LogRecords(), nil
}

// lokiJSONRequest is Loki's JSON push body.
type lokiJSONRequest struct {
	Streams []struct {
		Stream lokiJSONLabels      `json:"stream"`
		Values [][]json.RawMessage `json:"values"`
	} `json:"streams"`
}

// lokiJSONLabels is a stream's labels, a JSON object of strings, and the
// name it repeats, if any: encoding/json keeps the last value of a key
// given twice, where Loki's protobuf push is refused.
type lokiJSONLabels struct {
	m        map[string]string
	repeated string
}

func (l *lokiJSONLabels) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &l.m); err != nil {
		return err
	}
	l.repeated = repeatedJSONKey(b, len(l.m))
	return nil
}

// repeatedJSONKey is a key the JSON object b gives twice, "" if it gives
// each once: b holds more keys than the n its map decoded to. Keys are
// counted as the colons outside strings at the object's top level; the
// name is found, on that path only, by reading b's keys.
func repeatedJSONKey(b []byte, n int) string {
	keys, depth := 0, 0
	jsonStructure(b, func(c byte, _ int) bool {
		switch c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				keys++
			}
		}
		return true
	})
	if keys <= n {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	if _, err := dec.Token(); err != nil { // {
		return "?"
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		key, _ := tok.(string)
		if seen[key] {
			return key
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return "?"
}

// decodeLokiJSON converts Loki's JSON push body:
// {"streams":[{"stream":{"k":"v"},"values":[["<unix ns>","line",{"k":"v"}]]}]}.
func decodeLokiJSON(body []byte, lim decodeLimits) (plog.Logs, error) {
	if err := checkLokiJSONCost(body, lim); err != nil {
		return plog.Logs{}, err
	}
	var req lokiJSONRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return plog.Logs{}, jsonError("Loki push JSON", body, err)
	}
	logs := plog.NewLogs()
	now := pcommon.NewTimestampFromTime(time.Now())
	for i, s := range req.Streams {
		if s.Stream.repeated != "" {
			return plog.Logs{}, fmt.Errorf("streams[%d].stream: label name %q given twice", i, quoteAtMost(s.Stream.repeated, 64))
		}
		labels := make([][2]string, 0, len(s.Stream.m))
		for k, v := range s.Stream.m {
			if err := checkLabel(k, v); err != nil {
				return plog.Logs{}, fmt.Errorf("streams[%d].stream: %w", i, err)
			}
			labels = append(labels, [2]string{k, v})
		}
		sortLabels(labels)
		records, err := newLokiStream(logs, labels, lim)
		if err != nil {
			return plog.Logs{}, fmt.Errorf("streams[%d].stream: %w", i, err)
		}
		for j, v := range s.Values {
			if len(v) < 2 || len(v) > 3 {
				return plog.Logs{}, fmt.Errorf("%s: want [timestamp, line] or [timestamp, line, {metadata}], got %d elements", lokiValueAt(i, j), len(v))
			}
			tsRaw, ok := jsonStringBytes(v[0])
			if !ok {
				return plog.Logs{}, fmt.Errorf("%s[0]: timestamp must be a string of Unix nanoseconds, got %s", lokiValueAt(i, j), quoteAtMost(string(v[0]), 64))
			}
			ts, err := strconv.ParseInt(string(tsRaw), 10, 64)
			if err != nil {
				return plog.Logs{}, fmt.Errorf("%s[0]: timestamp %q is not an integer of Unix nanoseconds", lokiValueAt(i, j), quoteAtMost(string(tsRaw), 64))
			}
			line, ok := jsonStringBytes(v[1])
			if !ok {
				return plog.Logs{}, fmt.Errorf("%s[1]: line must be a string, got %s", lokiValueAt(i, j), quoteAtMost(string(v[1]), 64))
			}
			lr := records.AppendEmpty()
			lr.SetTimestamp(pcommon.Timestamp(ts))
			lr.SetObservedTimestamp(now)
			lr.Body().SetStr(string(line))
			if len(v) == 3 {
				var md map[string]string
				if err := json.Unmarshal(v[2], &md); err != nil {
					return plog.Logs{}, fmt.Errorf("%s[2]: structured metadata must be an object of strings, got %s", lokiValueAt(i, j), quoteAtMost(string(v[2]), 64))
				}
				if err := lim.checkLabelCount(len(md)); err != nil {
					return plog.Logs{}, fmt.Errorf("%s[2]: %w", lokiValueAt(i, j), err)
				}
				if k := repeatedJSONKey(v[2], len(md)); k != "" {
					return plog.Logs{}, fmt.Errorf("%s[2]: label name %q given twice", lokiValueAt(i, j), quoteAtMost(k, 64))
				}
				keys := make([][2]string, 0, len(md))
				for k, val := range md {
					if err := checkLabel(k, val); err != nil {
						return plog.Logs{}, fmt.Errorf("%s[2]: %w", lokiValueAt(i, j), err)
					}
					keys = append(keys, [2]string{k, val})
				}
				sortLabels(keys)
				for _, kv := range keys {
					lr.Attributes().PutStr(kv[0], kv[1]) // a JSON object's keys: one each
				}
			}
		}
	}
	return logs, nil
}

// lokiValueAt names a value of a Loki JSON push, for errors: built only
// when there is one.
func lokiValueAt(stream, value int) string {
	return fmt.Sprintf("streams[%d].values[%d]", stream, value)
}

// jsonStringBytes is the string a JSON string value holds. Where it
// holds no escape and is valid UTF-8 (raw comes from a body the decoder
// already checked, so it holds no control character), that is the bytes
// between its quotes, without json.Unmarshal's allocations; otherwise
// json.Unmarshal decodes it. ok is false when raw is not a string (null
// decodes as "", as json.Unmarshal has it).
func jsonStringBytes(raw []byte) (b []byte, ok bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		if in := raw[1 : n-1]; bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
			return in, true
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false
	}
	return []byte(s), true
}

// What a Loki JSON push costs decoded and converted, per element, in
// bytes: what TestH26xLokiJSONCostBoundsDecoding measured under -race,
// rounded up by about a quarter. An entry is an array (its RawMessages,
// a log record), a stream or an entry's metadata an object (a resource,
// or a map), each label a key (a map entry, an attribute). Strings cost
// about three times their size (a RawMessage's copy, the string, a map
// key), which the factor covers.
const (
	lokiJSONArrayCost  = 544 // 423 an entry ["1",""]
	lokiJSONObjectCost = 608 // 576 a stream {}, 328 an entry's metadata {}
	lokiJSONKeyCost    = 448 // 336 a metadata label, 286 a stream label
)

// lokiJSONCost is what decoding and converting a Loki JSON push would
// allocate, by one pass over its bytes (after scanJSON's, which checked
// its nesting): each array, object and key at its cost.
func lokiJSONCost(body []byte) int64 {
	var arrays, objects, keys int64
	jsonStructure(body, func(c byte, _ int) bool {
		switch c {
		case '[':
			arrays++
		case '{':
			objects++
		case ':':
			keys++
		}
		return true
	})
	return arrays*lokiJSONArrayCost + objects*lokiJSONObjectCost + keys*lokiJSONKeyCost
}

// lokiCostError is a Loki JSON push that would cost more to decode and
// convert than the tenant's budget: refused with 413.
type lokiCostError struct{ cost, maxDecoded int64 }

func (e *lokiCostError) Error() string {
	return fmt.Sprintf("Loki push JSON body would take about %d MiB to decode, its entries, streams and labels counted, over %d times the tenant's max_decompressed_bytes %d; split the request",
		e.cost>>20, promCostFactor, e.maxDecoded)
}

// checkLokiJSONCost refuses a Loki JSON push whose arrays, objects and
// keys would cost more than promCostFactor times the tenant's
// max_decompressed_bytes to decode and convert, before it is decoded.
func checkLokiJSONCost(body []byte, lim decodeLimits) error {
	if lim.maxDecoded <= 0 {
		return nil
	}
	if cost := lokiJSONCost(body); cost > promCostFactor*lim.maxDecoded {
		return &lokiCostError{cost: cost, maxDecoded: lim.maxDecoded}
	}
	return nil
}

// jsonError names where a JSON body went wrong: line, column and offset,
// and the field for a type mismatch.
func jsonError(what string, body []byte, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte as read.
		off := max(syn.Offset-1, 0)
		line, col := lineCol(body, off)
		return fmt.Errorf("body is not valid %s: line %d, column %d (offset %d): %v", what, line, col, off, syn)
	case errors.As(err, &typ):
		line, col := lineCol(body, typ.Offset)
		return fmt.Errorf("body is not valid %s: line %d, column %d (offset %d): field %q must be %s, not %s", what, line, col, typ.Offset, typ.Field, typ.Type, typ.Value)
	}
	return fmt.Errorf("body is not valid %s: %v", what, err)
}

func lineCol(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	prefix := b[:off]
	line = bytes.Count(prefix, []byte{'\n'}) + 1
	col = int(off) - (bytes.LastIndexByte(prefix, '\n') + 1) + 1
	return line, col
}

// parseLokiLabels parses a stream selector as Loki sends it,
// {name="value", other="v2"}, with Go-style escapes in values.
func parseLokiLabels(s string) ([][2]string, error) {
	in := strings.TrimSpace(s)
	if !strings.HasPrefix(in, "{") || !strings.HasSuffix(in, "}") {
		return nil, fmt.Errorf("%q is not a label set {name=\"value\", ...}", quoteAtMost(s, 128))
	}
	in = strings.TrimSpace(in[1 : len(in)-1])
	var out [][2]string
	for in != "" {
		eq := strings.IndexByte(in, '=')
		if eq < 0 {
			return nil, fmt.Errorf("label set %q: missing '=' after %q", quoteAtMost(s, 128), quoteAtMost(in, 64))
		}
		name := strings.TrimSpace(in[:eq])
		rest := strings.TrimSpace(in[eq+1:])
		q, err := strconv.QuotedPrefix(rest)
		if err != nil || !strings.HasPrefix(q, `"`) {
			return nil, fmt.Errorf("label %q: value is not a double-quoted string", quoteAtMost(name, 64))
		}
		value, _ := strconv.Unquote(q)
		if err := checkLabel(name, value); err != nil {
			return nil, err
		}
		out = append(out, [2]string{name, value})
		in = strings.TrimSpace(rest[len(q):])
		if in == "" {
			break
		}
		if in[0] != ',' {
			return nil, fmt.Errorf("label set %q: want ',' after label %q", quoteAtMost(s, 128), quoteAtMost(name, 64))
		}
		in = strings.TrimSpace(in[1:])
	}
	return out, nil
}

// checkLabel applies Prometheus' label name rule and the length bounds.
func checkLabel(name, value string) error {
	if len(name) > maxLabelNameLength {
		return fmt.Errorf("label name %q… is %d bytes, over %d", name[:32], len(name), maxLabelNameLength)
	}
	if !validLabelName(name) {
		return fmt.Errorf("label name %q is not valid (want [a-zA-Z_][a-zA-Z0-9_]*)", quoteAtMost(name, 64))
	}
	if len(value) > maxLabelValueLength {
		return fmt.Errorf("label %q: value is %d bytes, over %d", name, len(value), maxLabelValueLength)
	}
	return nil
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func sortLabels(l [][2]string) {
	// Map order must not leak into the output.
	slices.SortFunc(l, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
}
