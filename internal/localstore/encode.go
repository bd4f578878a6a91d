package localstore

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// The store writes pdata values as JSON itself rather than through
// encoding/json, because encoding/json refuses NaN and ±Inf and would lose
// every other value of the record with them. This encoder cannot fail:
//   - NaN, +Inf and -Inf are the strings "NaN", "+Inf" and "-Inf" (as
//     Prometheus writes them); finite doubles are written as encoding/json
//     writes them;
//   - bytes are base64, as pcommon's AsString gives them;
//   - invalid UTF-8 becomes U+FFFD byte by byte, as encoding/json does;
//   - a repeated key is kept, in the order it came (json_extract reads the
//     first, as pcommon.Map.Get does), so no value hides another.

// attrsJSON is m as a JSON object.
func attrsJSON(m pcommon.Map) string {
	if m.Len() == 0 {
		return "{}"
	}
	return string(appendMap(nil, m))
}

// resourceJSON is a resource's attributes as a JSON object, but its
// tenant.lineage: the lineage table and the rows' lineage column hold it.
func resourceJSON(m pcommon.Map) string {
	if _, ok := m.Get(identity.AttrLineage); !ok {
		return attrsJSON(m)
	}
	return string(appendMapSkip(nil, m, identity.AttrLineage))
}

func appendMap(b []byte, m pcommon.Map) []byte { return appendMapSkip(b, m, "") }

// appendMapSkip is appendMap leaving out the key skip.
func appendMapSkip(b []byte, m pcommon.Map, skip string) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m.All() {
		if skip != "" && k == skip {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	return append(b, '}')
}

func appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return appendFloat(b, v.Double())
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeBytes:
		raw := v.Bytes().AsRaw()
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, raw)
		return append(b, '"')
	case pcommon.ValueTypeMap:
		return appendMap(b, v.Map())
	case pcommon.ValueTypeSlice:
		b = append(b, '[')
		for i, e := range v.Slice().All() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, e)
		}
		return append(b, ']')
	}
	return append(b, "null"...)
}

// appendFloat writes f as a JSON number, or as a string when JSON has no
// number for it.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b = append(b, '"')
		b = appendFloatText(b, f)
		return append(b, '"')
	}
	return appendFloatText(b, f)
}

// appendFloatText writes f as encoding/json would (ES6 number formatting),
// and NaN, +Inf, -Inf by those names.
func appendFloatText(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// bodyText is a log body for the body column: a map or slice as JSON, a
// double as appendFloatText writes it, anything else as its string.
func bodyText(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return nil
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		return string(appendValue(nil, v))
	case pcommon.ValueTypeDouble:
		return string(appendFloatText(nil, v.Double()))
	}
	return v.AsString()
}

// jsonObject builds the small fixed-shape objects of the detail column
// (histogram buckets, summary quantiles) with the same encoding.
type jsonObject struct{ b []byte }

func (o *jsonObject) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = appendString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) float(k string, f float64) { o.key(k); o.b = appendFloat(o.b, f) }
func (o *jsonObject) int(k string, n int64)     { o.key(k); o.b = strconv.AppendInt(o.b, n, 10) }
func (o *jsonObject) uint(k string, n uint64)   { o.key(k); o.b = strconv.AppendUint(o.b, n, 10) }

func (o *jsonObject) floats(k string, fs []float64) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, f := range fs {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendFloat(o.b, f)
	}
	o.b = append(o.b, ']')
}

func (o *jsonObject) uints(k string, ns []uint64) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, n := range ns {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = strconv.AppendUint(o.b, n, 10)
	}
	o.b = append(o.b, ']')
}

// object writes a nested object built by fill.
func (o *jsonObject) object(k string, fill func(*jsonObject)) {
	o.key(k)
	var in jsonObject
	fill(&in)
	o.b = append(o.b, in.String()...)
}

// objects writes an array of n objects, the i-th built by fill.
func (o *jsonObject) objects(k string, n int, fill func(int, *jsonObject)) {
	o.key(k)
	o.b = append(o.b, '[')
	for i := range n {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		var in jsonObject
		fill(i, &in)
		o.b = append(o.b, in.String()...)
	}
	o.b = append(o.b, ']')
}

// String is the object's JSON ("{}" when empty).
func (o *jsonObject) String() string {
	if len(o.b) == 0 {
		return "{}"
	}
	return string(o.b) + "}"
}
