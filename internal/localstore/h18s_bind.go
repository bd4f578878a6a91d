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
	st   *sqlite3.Stmt
	last []cell
	// known: last[i] is what parameter i holds.
	known []bool
}

func newRowInserter(st *sqlite3.Stmt, params int) *rowInserter {
	return &rowInserter{st: st, last: make([]cell, params), known: make([]bool, params)}
}

// bind sets parameter i (0-based) to v unless it holds v already.
func (r *rowInserter) bind(i int, v cell) {
	if r.known[i] && v.same(&r.last[i]) {
		return
	}
	v.bind(r.st, i+1)
	switch v.k {
	case cellNull, cellInt, cellText:
		r.last[i], r.known[i] = v, true
	default: // a float is cheap to bind; a []byte buffer changes under us
		r.last[i], r.known[i] = cell{}, false
	}
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
