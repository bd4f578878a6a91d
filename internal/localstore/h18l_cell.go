package localstore

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/ncruces/go-sqlite3"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// cell is one column's value as ingest binds and hashes it: NULL, an
// integer, a float, text (s, or the bytes b). Passed by value, not in an
// interface, it costs no allocation per value (an int64 or a string put
// in an `any` is one each: about four per row).
type cell struct {
	k cellKind
	i int64
	f float64
	s string
	b []byte
}

type cellKind uint8

const (
	cellNull cellKind = iota
	cellInt
	cellFloat
	cellText
	cellBytes
	// cellDigest is a resource's digest standing for its JSON in a row's
	// hash (row hash 2): hashed tagged 'r'; never bound.
	cellDigest
)

func intCell(v int64) cell     { return cell{k: cellInt, i: v} }
func textCell(v string) cell   { return cell{k: cellText, s: v} }
func bytesCell(v []byte) cell  { return cell{k: cellBytes, b: v} }
func floatCell(v float64) cell { return cell{k: cellFloat, f: v} }
func digestCell(d []byte) cell { return cell{k: cellDigest, b: d} }

// anyCell is v (nil, int64, int, float64, string or []byte) as a cell;
// another type is a bug (it would be bound and hashed as nothing).
func anyCell(v any) cell {
	switch x := v.(type) {
	case nil:
		return cell{}
	case int64:
		return intCell(x)
	case int:
		return intCell(int64(x))
	case float64:
		return floatCell(x)
	case string:
		return textCell(x)
	case []byte:
		return bytesCell(x)
	}
	panic(fmt.Sprintf("localstore: row value of type %T", v))
}

// hexCell is a trace or span id's hex, NULL when empty.
func hexCell(empty bool, s func() string) cell {
	if empty {
		return cell{}
	}
	return textCell(s())
}

// bodyCell is bodyText as a cell.
func bodyCell(v pcommon.Value) cell {
	if v.Type() == pcommon.ValueTypeStr {
		return textCell(v.Str())
	}
	return anyCell(bodyText(v))
}

// bind binds c to parameter i (1-based).
func (c *cell) bind(st *sqlite3.Stmt, i int) {
	switch c.k {
	case cellNull:
		_ = st.BindNull(i)
	case cellInt:
		_ = st.BindInt64(i, c.i)
	case cellFloat:
		_ = st.BindFloat(i, c.f)
	case cellText:
		_ = st.BindText(i, c.s)
	case cellBytes:
		if c.b == nil {
			_ = st.BindNull(i)
			return
		}
		// BindText copies into SQLite's memory and keeps nothing.
		_ = st.BindText(i, unsafe.String(unsafe.SliceData(c.b), len(c.b)))
	}
}

// same reports whether binding c again would bind what last holds: only
// NULL, integers and strings are remembered (a float is cheap to bind, a
// byte buffer changes under us).
func (c *cell) same(last *cell) bool {
	if c.k != last.k {
		return false
	}
	switch c.k {
	case cellNull:
		return true
	case cellInt:
		return c.i == last.i
	case cellText:
		return c.s == last.s
	}
	return false
}

// hash feeds c to the row digest: a tag, then the value (text with its
// length; a float that is an integer as that integer).
func (c *cell) hash(h *rowHasher) {
	switch c.k {
	case cellNull:
		h.buf = append(h.buf, 'n')
	case cellInt:
		h.int(c.i)
	case cellFloat:
		h.float(c.f)
	case cellText:
		h.buf = append(h.buf, 's')
		h.buf = binary.BigEndian.AppendUint64(h.buf, uint64(len(c.s)))
		h.buf = append(h.buf, c.s...)
	case cellBytes:
		h.bytes(c.b)
	case cellDigest:
		h.digest(c.b)
	}
}

// hashCells feeds a row's values, its last, an added column, only when
// set (addedColumn).
func hashCells(h *rowHasher, row []cell) {
	if row[len(row)-1].k == cellNull {
		row = row[:len(row)-1]
	}
	for i := range row {
		row[i].hash(h)
	}
}
