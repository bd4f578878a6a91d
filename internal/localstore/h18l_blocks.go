package localstore

import (
	"errors"
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
// and values, in the same order, with the ids SQLite would have chosen
// (one past the table's largest, which the block names explicitly, so
// each row is hashed into the ingest entry's digest as it is bound, as
// before).

// blockSizes are the block lengths, largest first: a run is cut into
// blocks of the largest that fits what is left of it. Each is one
// prepared statement per table on each open tenant connection.
var blockSizes = []int{32, 8, 1}

// errRowIDs: the table's row ids reached 2^63-1, where SQLite would pick
// ids at random. Nine quintillion rows; never in practice.
var errRowIDs = errors.New("localstore: row ids exhausted")

// blockInserter inserts one transaction's rows into one table.
type blockInserter struct {
	t     *tenantDB
	sum   *IngestSummary
	table string
	// cols are the table's columns after id, in table order; shared
	// marks those a run shares, sharedAt their positions in cols.
	cols     []string
	shared   []bool
	sharedAt []int
	sizes    []int

	nextID int64
	// The block being bound: its statement (bindings kept between
	// executions, so a value equal to the last one bound to the same
	// parameter is not bound again), its length and rows bound so far.
	stmts map[int]*rowInserter
	cur   *rowInserter
	k, n  int
	// The run: its shared values (in sharedAt order) and rows left.
	run     []cell
	runLeft int
	row     []cell // one row's values in table order, for the digest
}

// newBlockInserter: cols are the table's columns after id in table
// order, shared those bound once per run.
func (t *tenantDB) newBlockInserter(sum *IngestSummary, cols []string, shared ...string) *blockInserter {
	b := &blockInserter{t: t, sum: sum, table: tables[sum.Signal], cols: cols, shared: make([]bool, len(cols)),
		sizes: blockSizes, stmts: map[int]*rowInserter{}, row: make([]cell, len(cols))}
	if t.s.blockRows > 0 {
		b.sizes = []int{t.s.blockRows, 1}
		if t.s.blockRows == 1 {
			b.sizes = b.sizes[:1]
		}
	}
	for i, c := range cols {
		for _, s := range shared {
			if c == s {
				b.shared[i] = true
				b.sharedAt = append(b.sharedAt, i)
			}
		}
	}
	b.run = make([]cell, len(b.sharedAt))
	return b
}

// startRun begins a run of n rows sharing vals (in the order the shared
// columns appear in the table). The previous run must be complete.
func (b *blockInserter) startRun(n int, vals ...any) {
	for i, v := range vals {
		b.run[i] = anyCell(v)
	}
	b.runLeft = n
}

// blockSQL is the INSERT of k rows: the shared columns are parameters
// 1..S, row r's id and own columns the next 1+len(cols)-S.
func (b *blockInserter) blockSQL(k int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(b.table)
	sb.WriteString("(id")
	for _, c := range b.cols {
		sb.WriteString(", ")
		sb.WriteString(c)
	}
	sb.WriteString(") VALUES ")
	s, per := len(b.sharedAt), 1+len(b.cols)-len(b.sharedAt)
	for r := range k {
		if r > 0 {
			sb.WriteByte(',')
		}
		p := s + r*per + 1
		sb.WriteString("(?")
		sb.WriteString(strconv.Itoa(p))
		p++
		si := 0
		for i := range b.cols {
			sb.WriteString(",?")
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

// add binds one row of the run, its values in table order with the
// shared columns' left out, and returns the id it takes.
func (b *blockInserter) add(vals ...cell) (int64, error) {
	if b.n == 0 {
		if err := b.startBlock(); err != nil {
			return 0, err
		}
	}
	s, per := len(b.sharedAt), 1+len(b.cols)-len(b.sharedAt)
	p := s + b.n*per
	id := b.nextID
	b.nextID++
	b.cur.bind(p, intCell(id))
	p++
	v, si := 0, 0
	for i := range b.cols {
		if b.shared[i] {
			b.row[i] = b.run[si]
			si++
			continue
		}
		b.row[i] = vals[v]
		b.cur.bind(p, vals[v])
		v, p = v+1, p+1
	}
	b.n++
	b.runLeft--
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
	if b.n == b.k {
		b.n = 0
		if err := b.cur.st.Exec(); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// startBlock picks the next block's statement and binds the run's values.
func (b *blockInserter) startBlock() error {
	if b.nextID == 0 {
		st, err := b.t.stmt("SELECT coalesce(max(id), 0) FROM " + b.table)
		if err != nil {
			return err
		}
		st.Step()
		last := st.ColumnInt64(0)
		if err := st.Reset(); err != nil {
			return err
		}
		b.nextID = last + 1
	}
	if b.runLeft <= 0 {
		return errors.New("localstore: row outside a run")
	}
	b.k = b.sizes[len(b.sizes)-1]
	for _, k := range b.sizes {
		if k <= b.runLeft {
			b.k = k
			break
		}
	}
	if b.nextID > math.MaxInt64-int64(b.k) {
		return errRowIDs
	}
	r, ok := b.stmts[b.k]
	if !ok {
		st, err := b.t.stmt(b.blockSQL(b.k))
		if err != nil {
			return err
		}
		r = newRowInserter(st, len(b.sharedAt)+b.k*(1+len(b.cols)-len(b.sharedAt)))
		b.stmts[b.k] = r
	}
	b.cur = r
	for i, v := range b.run {
		r.bind(i, v)
	}
	return nil
}

// done checks that every block was written (the caller's runs were as
// long as it said).
func (b *blockInserter) done() error {
	if b.n != 0 || b.runLeft != 0 {
		return errors.New("localstore: a block of rows was left unwritten")
	}
	return nil
}
