package localstore

import (
	"bytes"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attrsMemo lets attrsJSON give the last row's JSON again when a row's
// attributes are the last row's, in the same order (h27s), and seeRow
// count the row in its lineage as the last one again: the records of a
// batch often carry the same ones (a sender's fixed attributes, the
// redactor's masked value and class list), and comparing them costs
// less than writing their JSON and reading their audit attributes
// again. It holds the last map's pairs, which point into the caller's
// batch, so it is valid within one write only: newBlockInserter and
// blockInserter.done reset it.
type attrsMemo struct {
	kv []attrKV
	// ok: kv is the map whose JSON the tenant's jsonBuf holds.
	ok bool
	// hit: attrsJSON's last call was given attributes that were the row
	// before's (an empty map never is); part is the lineage part the row
	// before was counted in (seeRow).
	hit  bool
	part *lineagePart
}

type attrKV struct {
	k string
	v pcommon.Value
}

// maxMemoPairs bounds the pairs a tenant keeps between writes.
const maxMemoPairs = 1024

func (m *attrsMemo) reset() {
	clear(m.kv)
	m.kv, m.ok, m.hit, m.part = m.kv[:0], false, false, nil
	if cap(m.kv) > maxMemoPairs {
		m.kv = nil
	}
}

// same reports whether attrs are the pairs kept, key by key in order,
// each value writing the same JSON.
func (m *attrsMemo) same(attrs pcommon.Map) bool {
	if !m.ok || attrs.Len() != len(m.kv) {
		return false
	}
	i := 0
	for k, v := range attrs.All() {
		if kv := &m.kv[i]; kv.k != k || !sameValue(kv.v, v) {
			return false
		}
		i++
	}
	return true
}

// keep keeps attrs' pairs, the map whose JSON was just written.
func (m *attrsMemo) keep(attrs pcommon.Map) {
	clear(m.kv)
	m.kv = m.kv[:0]
	for k, v := range attrs.All() {
		m.kv = append(m.kv, attrKV{k, v})
	}
	m.ok = true
}

// sameValue reports whether a and b are the same value, which appendValue
// writes the same: doubles by their bits, slices element by element; a
// map is never the same (compared in order it would need its pairs
// kept; it is written again).
func sameValue(a, b pcommon.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Type() {
	case pcommon.ValueTypeEmpty:
		return true
	case pcommon.ValueTypeStr:
		return a.Str() == b.Str()
	case pcommon.ValueTypeInt:
		return a.Int() == b.Int()
	case pcommon.ValueTypeDouble:
		return math.Float64bits(a.Double()) == math.Float64bits(b.Double())
	case pcommon.ValueTypeBool:
		return a.Bool() == b.Bool()
	case pcommon.ValueTypeBytes:
		return bytes.Equal(a.Bytes().AsRaw(), b.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		as, bs := a.Slice(), b.Slice()
		if as.Len() != bs.Len() {
			return false
		}
		for i := range as.Len() {
			if !sameValue(as.At(i), bs.At(i)) {
				return false
			}
		}
		return true
	}
	return false
}
