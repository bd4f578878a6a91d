package localstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Ingest inserts rows in blocks: one INSERT of up to blockRows rows
// instead of one per row. Each statement execution costs SQLite a
// cursor opened and closed on the table and each of its indexes, the
// table's last row sought, the statement halted and reset, and several
// calls between Go and SQLite's WebAssembly; a block pays them once.
// The values a run of rows shares (ingestion time, service, scope,
// resource, lineage: one ScopeLogs, ScopeSpans or ScopeMetrics) are
// parameters of the block, bound once, not once per row.
//
// The rows are the ones the row-by-row insert wrote: the same columns
// and values, in the same order, with the ids SQLite chooses: one past
// the table's largest. Each row is hashed into the ingest entry's digest
// as it is taken, under the id it will get (nextID, read once per
// transaction); after each block, flush checks that the last row took
// the id it was hashed under.
//
// The block names no id (h27s). Given one, SQLite checks that it is
// free, a search of the table's B-tree from its root for each row, and
// every block of several rows opened a statement journal (a copy of
// each page it changes, to undo the block alone if it aborts half way),
// with OR FAIL too. Without an id SQLite appends after its last row, and
// with OR FAIL, which makes a failed constraint stop the statement
// without undoing it, no block opens a statement journal. A block that
// fails leaves the rows it inserted before the failure; the caller
// (inTxBatch) rolls the whole transaction back, as it did, and an I/O or
// memory error, with no statement journal to undo, makes SQLite roll it
// back itself.

// blockSizes are the block lengths, largest first: a run is cut into
// blocks of the largest that fits what is left of it. Each is one
// prepared statement per table on each open tenant connection.
var blockSizes = []int{32, 8, 1}

// errRowIDHashed: a block's rows took other ids than the ones they were
// hashed under (another insert into the table in the same transaction
// would do it); the transaction is rolled back.
var errRowIDHashed = errors.New("localstore: rows took other ids than they were hashed under")

// errRowIDs: the table's row ids reached 2^63-1, where SQLite would pick
// ids at random. Nine quintillion rows; never in practice.
var errRowIDs = errors.New("localstore: row ids exhausted")

// blockInserter inserts one transaction's rows into one table.
type blockInserter struct {
	t   *tenantDB
	sum *IngestSummary
	// table is the view the rows are hashed as rows of, into the table
	// that holds them.
	table, into string
	// cols are the table's columns after id, in table order; shared
	// marks those a run shares, sharedAt their positions in cols.
	cols     []string
	shared   []bool
	sharedAt []int
	sizes    []int

	nextID int64
	// The prepared statement of each block length (bindings kept between
	// executions, so a value equal to the last one bound to the same
	// parameter is not bound again).
	stmts map[int]*rowInserter
	// The rows taken but not yet bound: their own values (own each, in
	// table order, those of bytes copied into t.blockArena), their ids,
	// and the bytes of text they hold. They are bound and inserted when
	// a block's worth is there, when the run ends, or when blockBytes
	// would be exceeded: SQLite holds a statement's bound values, so a
	// block of 32 hostile 1 MiB records would hold 32 MiB in the
	// connection's heap at once (and its WebAssembly memory never
	// shrinks), one such record no more than row by row.
	pend      []cell
	pendIDs   []int64
	pendBytes int
	// The run: its shared values (in sharedAt order) and rows left;
	// resAt is the position of the resource's id in cols, runRes what the
	// rows' hashes take in its place: the resource's digest (runDigest,
	// computed once by resourceID), or its JSON under row hash 1.
	run       []cell
	runLeft   int
	resAt     int
	runRes    cell
	runDigest [32]byte
	// runBig: the run's shared values pass blockBytes, so its rows go in
	// one at a time, through one statement: each block length's statement
	// would keep its own copy of them bound, and evaluating a block copies
	// them once more in SQLite's heap (a 3 MiB resource took 15 MiB of it
	// in blocks against 7 row by row).
	runBig bool
	err    error
	row    []cell // one row's values in table order, for the digest
}

// blockBytes bounds the text (and attributes) of the rows a block binds,
// besides the run's shared values: a row larger than that is inserted
// alone, and so is each row of a run whose shared values are (runBig).
// Ordinary rows (under 2 KiB) fill blocks of 32.
const blockBytes = 64 << 10

// newBlockInserter: cols are the view's columns after id in view order,
// shared those bound once per run (resource among them: the table's
// resource_id).
func (t *tenantDB) newBlockInserter(sum *IngestSummary, cols []string, shared ...string) *blockInserter {
	view := tables[sum.Signal]
	b := &blockInserter{t: t, sum: sum, table: view, into: rowTables[view], cols: rowColumns(cols), shared: make([]bool, len(cols)),
		sizes: blockSizes, stmts: map[int]*rowInserter{}, row: make([]cell, len(cols)), resAt: -1}
	if t.s.blockRows > 0 {
		b.sizes = []int{t.s.blockRows, 1}
		if t.s.blockRows == 1 {
			b.sizes = b.sizes[:1]
		}
	}
	for i, c := range cols {
		if c == resourceColumn {
			b.resAt = i
		}
		for _, s := range shared {
			if c == s {
				b.shared[i] = true
				b.sharedAt = append(b.sharedAt, i)
			}
		}
	}
	b.run = make([]cell, len(b.sharedAt))
	// Taken, given back by done: a transaction that fails half way
	// drops them with the values they still point to.
	b.pend, b.pendIDs = t.blockPend[:0], t.blockIDs[:0]
	t.blockPend, t.blockIDs = nil, nil
	return b
}

// startRun begins a run of n rows sharing vals (in the order the shared
// columns appear in the table, the resource's id for resource) and the
// resource whose JSON is res and digest d (resourceID's). The previous
// run must be complete.
func (b *blockInserter) startRun(n int, res string, d [32]byte, vals ...any) {
	b.runDigest = d
	b.runRes = digestCell(b.runDigest[:])
	if b.t.rowHash < rowHash2 {
		b.runRes = textCell(res) // only a Tenancy of format 2 (Store.rowHash1)
	}
	if b.runLeft != 0 || len(b.pendIDs) != 0 {
		// The rows left would be bound with this run's values.
		b.err = errors.New("localstore: a run of rows ended early")
	}
	shared := 0
	for i, v := range vals {
		b.run[i] = anyCell(v)
		shared += len(b.run[i].s) + len(b.run[i].b)
	}
	b.runLeft, b.runBig = n, shared > blockBytes
}

// blockSQL is the INSERT of k rows: the shared columns are parameters
// 1..S, row r's own columns the next len(cols)-S.
func (b *blockInserter) blockSQL(k int) string {
	var sb strings.Builder
	sb.WriteString("INSERT OR FAIL INTO ")
	sb.WriteString(b.into)
	sb.WriteString("(")
	sb.WriteString(strings.Join(b.cols, ", "))
	sb.WriteString(") VALUES ")
	s, per := len(b.sharedAt), len(b.cols)-len(b.sharedAt)
	for r := range k {
		if r > 0 {
			sb.WriteByte(',')
		}
		p := s + r*per + 1
		si := 0
		for i := range b.cols {
			if i == 0 {
				sb.WriteString("(?")
			} else {
				sb.WriteString(",?")
			}
			if b.shared[i] {
				si++
				sb.WriteString(strconv.Itoa(si))
				continue
			}
			sb.WriteString(strconv.Itoa(p))
			p++
		}
		sb.WriteByte(')')
	}
	return sb.String()
}

// add takes one row of the run, its values in table order with the
// shared columns' left out, and returns the id it takes.
func (b *blockInserter) add(vals ...cell) (int64, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.runLeft <= 0 {
		return 0, errors.New("localstore: row outside a run")
	}
	if b.nextID == 0 {
		st, err := b.t.stmt("SELECT coalesce(max(id), 0) FROM " + b.into)
		if err != nil {
			return 0, err
		}
		st.Step()
		last := st.ColumnInt64(0)
		if err := st.Reset(); err != nil {
			return 0, err
		}
		if last >= math.MaxInt64 { // one past it would wrap to -2^63
			return 0, errRowIDs
		}
		b.nextID = last + 1
	}
	if b.nextID >= math.MaxInt64 {
		return 0, errRowIDs
	}
	size := 0
	for i := range vals {
		size += len(vals[i].s) + len(vals[i].b)
	}
	if len(b.pendIDs) > 0 && b.pendBytes+size > blockBytes {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	id := b.nextID
	b.nextID++
	// A row's bytes (the attributes' JSON) live in a buffer the next row
	// reuses: copied, unless the row is bound at once.
	alone := b.runBig || b.pendBytes+size > blockBytes
	at := len(b.pend)
	b.pend = append(b.pend, vals...)
	if !alone {
		for i := at; i < len(b.pend); i++ {
			if c := &b.pend[i]; c.k == cellBytes && c.b != nil {
				n := len(b.t.blockArena)
				b.t.blockArena = append(b.t.blockArena, c.b...)
				c.b = b.t.blockArena[n:len(b.t.blockArena):len(b.t.blockArena)]
			}
		}
	}
	b.pendIDs = append(b.pendIDs, id)
	b.pendBytes += size
	b.runLeft--
	v, si := 0, 0
	for i := range b.cols {
		if i == b.resAt {
			b.row[i] = b.runRes
			si++
			continue
		}
		if b.shared[i] {
			b.row[i] = b.run[si]
			si++
			continue
		}
		b.row[i] = vals[v]
		v++
	}
	if b.sum.FirstID == 0 {
		b.sum.FirstID = id
	}
	b.sum.LastID = id
	if !b.t.s.noRowDigests {
		h := b.t.rowHasher()
		h.begin(b.table, id)
		hashCells(h, b.row)
		h.end(&b.sum.digest)
	}
	if alone || b.runLeft == 0 || len(b.pendIDs) == b.sizes[0] {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// flush inserts the rows taken, in blocks of the largest length that fits
// what is left of them.
func (b *blockInserter) flush() error {
	s, own := len(b.sharedAt), len(b.cols)-len(b.sharedAt)
	for i := 0; i < len(b.pendIDs); {
		k := b.sizes[len(b.sizes)-1]
		for _, n := range b.sizes {
			if n <= len(b.pendIDs)-i {
				k = n
				break
			}
		}
		r, ok := b.stmts[k]
		if !ok {
			st, err := b.t.stmt(b.blockSQL(k))
			if err != nil {
				return err
			}
			r = newRowInserter(st, s+k*own)
			b.stmts[k] = r
		}
		for j, v := range b.run {
			r.bind(j, v)
		}
		for n := range k {
			p := s + n*own
			for c, v := range b.pend[(i+n)*own : (i+n+1)*own] {
				r.bind(p+c, v)
			}
		}
		if err := r.st.Exec(); err != nil {
			return err
		}
		if last := b.t.conn.LastInsertRowID(); last != b.pendIDs[i+k-1] {
			return fmt.Errorf("%w: row %d took id %d", errRowIDHashed, b.pendIDs[i+k-1], last)
		}
		i += k
	}
	clear(b.pend) // no strings kept alive
	b.pend, b.pendIDs, b.pendBytes = b.pend[:0], b.pendIDs[:0], 0
	if cap(b.t.blockArena) > 2*blockBytes {
		b.t.blockArena = nil // grown by one large row: let go
	}
	b.t.blockArena = b.t.blockArena[:0]
	return nil
}

// done checks that every block was written (the caller's runs were as
// long as it said).
func (b *blockInserter) done() error {
	if b.err != nil {
		return b.err
	}
	if len(b.pendIDs) != 0 || b.runLeft != 0 {
		return errors.New("localstore: a block of rows was left unwritten")
	}
	b.t.blockPend, b.t.blockIDs = b.pend, b.pendIDs // cleared by the last flush
	return nil
}
