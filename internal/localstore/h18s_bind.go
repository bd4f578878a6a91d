package localstore

import (
	"github.com/ncruces/go-sqlite3"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// rowInserter is an insert statement with what each of its parameters
// holds: SQLite keeps a statement's bindings from one execution to the
// next, so a value equal to the last row's (the batch's ingestion time, a
// resource's JSON, service and scope, its lineage row, a repeated
// severity) is not copied into SQLite again. One serves one transaction.
type rowInserter struct {
	st    *sqlite3.Stmt
	last  []any
	known []bool
}

func newRowInserter(st *sqlite3.Stmt, params int) *rowInserter {
	return &rowInserter{st: st, last: make([]any, params), known: make([]bool, params)}
}

// bind sets parameter i (0-based) to v unless it holds v already.
func (r *rowInserter) bind(i int, v any) {
	if r.known[i] && sameBound(r.last[i], v) {
		return
	}
	bindAny(r.st, i+1, v)
	switch v.(type) {
	case nil, string, int64:
		r.last[i], r.known[i] = v, true
	default: // a float is cheap to bind; a []byte buffer changes under us
		r.last[i], r.known[i] = nil, false
	}
}

func sameBound(a, b any) bool {
	switch x := b.(type) {
	case nil:
		return a == nil
	case string:
		y, ok := a.(string)
		return ok && x == y
	case int64:
		y, ok := a.(int64)
		return ok && x == y
	}
	return false
}

// emptyObject is an empty map's JSON; never written into.
var emptyObject = []byte("{}")

// attrsJSON is m as a JSON object (the column attrs holds) in the
// tenant's reused buffer, valid until its next call; t.mu held.
func (t *tenantDB) attrsJSON(m pcommon.Map) []byte {
	if m.Len() == 0 {
		return emptyObject
	}
	// A buffer one huge record grew is let go at the next row, not kept
	// for as long as the tenant's database stays open.
	if cap(t.jsonBuf) > maxKeptJSON {
		t.jsonBuf = nil
	}
	t.jsonBuf = appendMap(t.jsonBuf[:0], m)
	return t.jsonBuf
}

// maxKeptJSON bounds the attributes buffer a tenant keeps between rows.
const maxKeptJSON = 64 << 10
