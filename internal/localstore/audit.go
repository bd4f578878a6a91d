package localstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// GenesisHash is the prev_hash of a log's first entry, in a chain begun
// before row hash 2.
var GenesisHash = strings.Repeat("0", 64)

// genesisRowHash2 is the prev_hash of the first entry of a chain begun on
// row hash 2 (a database new to a Tenancy of format 3): covered by the
// entry's keyed hash, it says the chain's row hashes are 2 from the
// start, with no upgrade entry; a Tenancy before refuses such a chain at
// its first entry instead of reading its sums as row hash 1.
var genesisRowHash2 = "r2:" + GenesisHash

// AuditEntry is one row of a tenant's audit log.
type AuditEntry struct {
	Seq           int64  `json:"seq"`
	Time          string `json:"time"`
	Kind          string `json:"kind"`
	Detail        string `json:"detail"`
	PolicyVersion string `json:"policy_version"`
	PrevHash      string `json:"prev_hash"`
	Hash          string `json:"hash,omitempty"`
}

// canonical is the entry's fields but the hash, as JSON in a fixed order,
// followed by prev_hash.
func (e AuditEntry) canonical() []byte {
	c := e
	c.Hash = ""
	b, _ := json.Marshal(c) // fields of fixed types in declaration order: canonical
	return append(b, e.PrevHash...)
}

// ComputeHash is SHA-256, in hex, over the canonical form of the entry:
// the unkeyed hash of entries written before the chain was keyed.
func (e AuditEntry) ComputeHash() string {
	h := sha256.Sum256(e.canonical())
	return hex.EncodeToString(h[:])
}

// ComputeKeyedHash is "k1:" and HMAC-SHA256, in hex, over the canonical
// form under the tenant's chain key: without the tenant's data key
// nobody can write an entry that verifies.
func (e AuditEntry) ComputeKeyedHash(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(e.canonical())
	return keyedPrefix + hex.EncodeToString(m.Sum(nil))
}

type auditHead struct {
	seq  int64
	hash string
}

const (
	sqlAuditHead   = `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`
	sqlAuditInsert = `INSERT INTO audit(seq, time, kind, detail, policy_version, prev_hash, hash) VALUES (?,?,?,?,?,?,?)`
)

// appendAudit adds an entry inside the caller's transaction (t.mu held).
func (t *tenantDB) appendAudit(now time.Time, kind string, detail any, policyVersion string) (auditHead, error) {
	d, err := json.Marshal(detail)
	if err != nil {
		return auditHead{}, err
	}
	head, err := t.auditHead()
	if err != nil {
		return auditHead{}, err
	}
	e := AuditEntry{Seq: head.seq + 1, Time: now.UTC().Format(time.RFC3339Nano), Kind: kind, Detail: string(d),
		PolicyVersion: policyVersion, PrevHash: head.hash}
	e.Hash = e.ComputeKeyedHash(t.chainKey)
	st, err := t.stmt(sqlAuditInsert)
	if err != nil {
		return auditHead{}, err
	}
	_ = st.BindInt64(1, e.Seq)
	_ = st.BindText(2, e.Time)
	_ = st.BindText(3, e.Kind)
	_ = st.BindText(4, e.Detail)
	_ = st.BindText(5, e.PolicyVersion)
	_ = st.BindText(6, e.PrevHash)
	_ = st.BindText(7, e.Hash)
	if err := st.Exec(); err != nil {
		return auditHead{}, fmt.Errorf("audit: %w", err)
	}
	t.headSeq = e.Seq
	return auditHead{seq: e.Seq, hash: e.Hash}, nil
}

func (t *tenantDB) auditHead() (auditHead, error) {
	st, err := t.stmt(sqlAuditHead)
	if err != nil {
		return auditHead{}, err
	}
	defer st.Reset()
	if st.Step() {
		return auditHead{seq: st.ColumnInt64(0), hash: st.ColumnText(1)}, nil
	}
	if err := st.Err(); err != nil {
		return auditHead{}, err
	}
	if t.rowHash >= rowHash2 {
		return auditHead{hash: genesisRowHash2}, nil
	}
	return auditHead{hash: GenesisHash}, nil
}

// RowsTally is what part of the chain accounts for in one table: how many
// rows and the sum of their keyed hashes.
type RowsTally struct {
	Rows   int64  `json:"rows"`
	Digest string `json:"rows_digest"`
}

// upgradeChain, at a connection's first transaction, keys a chain an
// older Tenancy wrote unkeyed: a "chain_upgrade" entry names the last
// unkeyed entry and accounts for every row the database holds, so from
// here on the rows and the chain verify together. t.mu held, in a
// transaction, before the transaction changes any row.
func (t *tenantDB) upgradeChain(now time.Time) error {
	if t.chainKeyed {
		return nil
	}
	head, err := t.auditHead()
	if err != nil {
		return err
	}
	if head.seq > 0 && !strings.HasPrefix(head.hash, keyedPrefix) {
		// Row hash 1: a chain this old has no row hash upgrade yet (it is
		// appended after this entry).
		rows, err := tallyTables(t.conn, t.rowHasher(), rowHash1)
		if err != nil {
			return err
		}
		detail := map[string]any{"unkeyed_head_seq": head.seq, "unkeyed_head_hash": head.hash, "rows": rows}
		if _, err := t.appendAudit(now, "chain_upgrade", detail, ""); err != nil {
			return err
		}
	}
	t.chainKeyed = true
	return nil
}

// rowHashUpgrade is the kind of the entry from which a chain's rows are
// hashed under row hash 2.
const rowHashUpgrade = "row_hash_upgrade"

// upgradeRowHash, at a connection's first transaction, after upgradeChain,
// puts a database whose rows are hashed under row hash 1 (format 2, or 0
// once converted) on row hash 2: a "row_hash_upgrade" entry carries every
// table's tally under row hash 1 ("before", which audit verify checks
// against what the chain accounted for until then, so an edit made
// before the upgrade is not laundered by it) and under row hash 2
// ("rows", what the chain accounts for from there on), and user_version
// becomes formatVersion, the hint read here next time. It hashes every
// row twice, once. A database whose chain is empty (new) needs no entry:
// its first entry's prev_hash is genesisRowHash2. A database whose chain
// is on row hash 2 already but user_version below (a Tenancy of format 2
// wrote to it since, and set it back) is marked again, with no second
// entry: that Tenancy's ingest entries carry row hash 1 sums, which audit
// verify reports. t.mu held, in a transaction, before the transaction
// changes any row.
func (t *tenantDB) upgradeRowHash(now time.Time) error {
	if t.rowHash >= rowHash2 {
		return nil
	}
	if t.s.rowHash1 {
		t.rowHash = rowHash1
		return nil
	}
	v, err := userVersion(t.conn)
	if err != nil {
		return err
	}
	if v < formatVersion {
		has, err := hasRowHashUpgrade(t.conn)
		if err != nil {
			return err
		}
		head, err := t.auditHead()
		if err != nil {
			return err
		}
		if !has && head.seq > 0 {
			h := t.rowHasher()
			before, err := tallyTables(t.conn, h, rowHash1)
			if err != nil {
				return err
			}
			rows, err := tallyTables(t.conn, h, rowHash2)
			if err != nil {
				return err
			}
			if _, err := t.appendAudit(now, rowHashUpgrade, map[string]any{"row_hash": rowHash2, "before": before, "rows": rows}, ""); err != nil {
				return err
			}
		}
		if err := t.conn.Exec(fmt.Sprintf("PRAGMA user_version=%d", formatVersion)); err != nil {
			return err
		}
	}
	t.rowHash = rowHash2
	return nil
}

// hasRowHashUpgrade reports whether the chain is on row hash 2: from its
// genesis, or from a keyed upgrade entry (read once per database, at its
// upgrade: a scan of the audit table).
func hasRowHashUpgrade(conn *sqlite3.Conn) (bool, error) {
	st, _, err := conn.Prepare(`SELECT 1 FROM audit WHERE (seq = 1 AND prev_hash = ?2) OR (kind = ?1 AND hash LIKE '` + keyedPrefix + `%') LIMIT 1`)
	if err != nil {
		return false, err
	}
	defer st.Close()
	_ = st.BindText(1, rowHashUpgrade)
	_ = st.BindText(2, genesisRowHash2)
	has := st.Step()
	return has, st.Err()
}

func (t *tenantDB) rowHasher() *rowHasher {
	if t.rows == nil {
		t.rows = newRowHasher(t.chainKey)
	}
	return t.rows
}

// tallyTables is every table's tally under row hash v (sumTables).
func tallyTables(conn *sqlite3.Conn, h *rowHasher, v int) (map[string]RowsTally, error) {
	rows := map[string]RowsTally{}
	err := sumTables(conn, h, v, func(table string, sum rowSum, n int64) error {
		rows[table] = RowsTally{Rows: n, Digest: sum.String()}
		return nil
	})
	return rows, err
}

// sumTables hashes every row of every table under row hash v, tables in
// name order, and hands each table's row count and sum to each: what a
// chain upgrade records and what verify checks the chain against.
func sumTables(conn *sqlite3.Conn, h *rowHasher, v int, each func(table string, sum rowSum, n int64) error) error {
	legacy, err := isTable(conn, "logs")
	if err != nil {
		return err
	}
	for _, table := range chainTables {
		q := hashedRows(table, v)
		if legacy {
			q = "SELECT * FROM " + table // format 0 (read only here): the tables as they are
		}
		st, _, err := conn.Prepare(q + " ORDER BY id")
		if err != nil && table == lineageTable && strings.Contains(err.Error(), "no such table") {
			// A store no Tenancy with lineage has written to yet (read
			// only here): it has no lineage rows.
			if err := each(table, rowSum{}, 0); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		sum, n, err := h.sumRows(st, table, v)
		st.Close()
		if err != nil {
			return err
		}
		if err := each(table, sum, n); err != nil {
			return err
		}
	}
	return nil
}

// ChainError names the first entry of an audit log that does not verify.
type ChainError struct {
	Seq    int64
	Reason string
}

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", e.Seq, e.Reason)
}

// RowsError says the data rows of a table are not the rows the audit chain
// accounts for: a row was edited, inserted or deleted outside the store.
type RowsError struct {
	Table  string
	Reason string
}

func (e *RowsError) Error() string {
	return fmt.Sprintf("data rows of table %s do not match the audit chain: %s", e.Table, e.Reason)
}

// VerifyResult summarizes a verified chain: its length and last hash, the
// value to keep elsewhere to detect a later truncation of the tail.
type VerifyResult struct {
	Entries  int64
	HeadSeq  int64
	HeadHash string
	// Unkeyed counts the entries an older Tenancy wrote before the chain
	// was keyed; they verify only as a plain hash chain.
	Unkeyed int64
	// Rows is how many data rows the chain was checked to account for.
	Rows int64
	// RowHash is the row hash the rows were checked under: 2 from the
	// chain's row hash upgrade entry (RowHashSeq) on, or from its start
	// (RowHashSeq 0, genesisRowHash2), else 1.
	RowHash    int
	RowHashSeq int64
	// Heads is every entry's hash by seq, for checking anchors.
	Heads map[int64]string `json:"-"`
}

// ingestDetail is the part of an ingest entry's detail the check reads.
type ingestDetail struct {
	Signal     string     `json:"signal"`
	Records    int64      `json:"records"`
	RowsDigest string     `json:"rows_digest"`
	Lineage    *RowsTally `json:"lineage"`
}

// verifyChain walks the audit table in seq order on conn, checking each
// entry's hash (keyed under key once keyed) and its link, and tallies the
// rows the chain accounts for; then it compares them with the rows the
// tables hold.
func verifyChain(conn *sqlite3.Conn, key []byte) (VerifyResult, error) {
	// One read transaction: every statement below reads one snapshot, so
	// a collector committing meanwhile is not taken for rows inserted
	// outside the store.
	if err := conn.Exec("BEGIN"); err != nil {
		return VerifyResult{}, err
	}
	defer func() { _ = conn.Exec("COMMIT") }()
	format, err := userVersion(conn)
	if err != nil {
		return VerifyResult{}, err
	}
	if err := knownFormat(conn); err != nil {
		return VerifyResult{}, err
	}
	st, _, err := conn.Prepare(`SELECT seq, time, kind, detail, policy_version, prev_hash, hash FROM audit ORDER BY seq`)
	if err != nil {
		return VerifyResult{}, err
	}
	defer st.Close()
	res := VerifyResult{HeadHash: GenesisHash, Heads: map[int64]string{}, RowHash: rowHash1}
	want := map[string]*RowsTally{}
	sums := map[string]*rowSum{}
	for _, tb := range chainTables {
		want[tb], sums[tb] = &RowsTally{}, &rowSum{}
	}
	keyed := false
	for st.Step() {
		e := AuditEntry{Seq: st.ColumnInt64(0), Time: st.ColumnText(1), Kind: st.ColumnText(2), Detail: st.ColumnText(3),
			PolicyVersion: st.ColumnText(4), PrevHash: st.ColumnText(5), Hash: st.ColumnText(6)}
		isKeyed := strings.HasPrefix(e.Hash, keyedPrefix)
		if e.Seq == 1 && isKeyed && e.PrevHash == genesisRowHash2 {
			res.HeadHash, res.RowHash = genesisRowHash2, rowHash2
		}
		switch {
		case e.Seq != res.HeadSeq+1:
			return res, &ChainError{Seq: res.HeadSeq + 1, Reason: fmt.Sprintf("entry missing (next present is seq %d)", e.Seq)}
		case e.PrevHash != res.HeadHash:
			return res, &ChainError{Seq: e.Seq, Reason: "prev_hash does not match the previous entry's hash"}
		case keyed && !isKeyed:
			return res, &ChainError{Seq: e.Seq, Reason: "an unkeyed entry after the chain was keyed"}
		case isKeyed && !hmac.Equal([]byte(e.ComputeKeyedHash(key)), []byte(e.Hash)):
			return res, &ChainError{Seq: e.Seq, Reason: "hash does not match the entry's content"}
		case !isKeyed && e.ComputeHash() != e.Hash:
			return res, &ChainError{Seq: e.Seq, Reason: "hash does not match the entry's content"}
		}
		switch {
		case isKeyed && e.Kind == rowHashUpgrade:
			keyed = true
			if res.RowHash >= rowHash2 {
				return res, &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("a second row hash upgrade (the first is seq %d)", res.RowHashSeq)}
			}
			if err := upgradeTallies(e, want, sums); err != nil {
				return res, err
			}
			res.RowHash, res.RowHashSeq = rowHash2, e.Seq
		case isKeyed:
			keyed = true
			if err := tally(e, want, sums); err != nil {
				return res, err
			}
		default:
			res.Unkeyed++
		}
		res.Entries++
		res.HeadSeq, res.HeadHash = e.Seq, e.Hash
		res.Heads[e.Seq] = e.Hash
	}
	if err := st.Err(); err != nil {
		return res, err
	}
	if format >= formatVersion && res.RowHash < rowHash2 && res.Entries > 0 {
		// The writer hashes rows under row hash 2 from user_version 3 on,
		// and sets it in the transaction that appends the entry.
		return res, &ChainError{Seq: res.HeadSeq + 1, Reason: fmt.Sprintf("the database is marked as hashing rows under row hash 2 (format %d) but its chain has no %s entry: it was removed", format, rowHashUpgrade)}
	}
	legacy, err := checkLayout(conn, res.RowHash)
	if err != nil {
		return res, err
	}
	h := newRowHasher(key)
	err = sumTables(conn, h, res.RowHash, func(table string, sum rowSum, n int64) error {
		res.Rows += n
		w := want[table]
		switch {
		case n > 0 && res.Entries == 0:
			return &RowsError{Table: table, Reason: fmt.Sprintf("the audit chain is empty but the table holds %d rows", n)}
		case n > 0 && !keyed:
			return &RowsError{Table: table, Reason: fmt.Sprintf("the chain was written by a Tenancy before keyed chains and does not cover the table's %d rows; the next write (by the collector, or a tenancyctl query) upgrades it", n)}
		case n < w.Rows:
			return &RowsError{Table: table, Reason: fmt.Sprintf("the table holds %d rows, the chain accounts for %d: rows were deleted", n, w.Rows)}
		case n > w.Rows:
			return &RowsError{Table: table, Reason: fmt.Sprintf("the table holds %d rows, the chain accounts for %d: rows were inserted", n, w.Rows)}
		case keyed && sum != *sums[table]:
			return &RowsError{Table: table, Reason: fmt.Sprintf("the %d rows' digest differs from the chain's: rows were edited or replaced", n)}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if legacy {
		return res, nil // format 0 has no resources
	}
	return res, checkResources(conn)
}

// upgradeTallies checks a row hash upgrade entry's "before" against the
// tallies the chain accounted for until it (an edit made before the
// upgrade, which hashed the rows as they then were, shows here), then
// puts its "rows", the same rows under row hash 2, in their place.
func upgradeTallies(e AuditEntry, want map[string]*RowsTally, sums map[string]*rowSum) error {
	var d struct {
		Before map[string]RowsTally `json:"before"`
		Rows   map[string]RowsTally `json:"rows"`
	}
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		return &ChainError{Seq: e.Seq, Reason: e.Kind + " detail: " + err.Error()}
	}
	parse := func(m map[string]RowsTally, table string) (RowsTally, rowSum, error) {
		r, ok := m[table]
		if !ok {
			return r, rowSum{}, nil
		}
		sum, err := parseRowSum(r.Digest)
		if err != nil {
			return r, sum, &ChainError{Seq: e.Seq, Reason: err.Error()}
		}
		return r, sum, nil
	}
	for _, m := range []map[string]RowsTally{d.Before, d.Rows} {
		for table := range m {
			if _, ok := want[table]; !ok {
				return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("%s entry names unknown table %q", e.Kind, table)}
			}
		}
	}
	for _, table := range chainTables {
		b, bsum, err := parse(d.Before, table)
		if err != nil {
			return err
		}
		r, rsum, err := parse(d.Rows, table)
		if err != nil {
			return err
		}
		switch w := want[table]; {
		case b.Rows != w.Rows:
			return &RowsError{Table: table, Reason: fmt.Sprintf("at the row hash upgrade (seq %d) the table held %d rows, the chain accounted for %d: rows were inserted or deleted before it", e.Seq, b.Rows, w.Rows)}
		case bsum != *sums[table]:
			return &RowsError{Table: table, Reason: fmt.Sprintf("at the row hash upgrade (seq %d) the %d rows' digest differed from the chain's: rows were edited or replaced before it", e.Seq, b.Rows)}
		case r.Rows != b.Rows:
			return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("%s entry counts %d rows of %s under row hash 2 and %d before", e.Kind, r.Rows, table, b.Rows)}
		}
		want[table].Rows, *sums[table] = r.Rows, rsum
	}
	return nil
}

// checkResources checks that each resource's digest is the SHA-256 of its
// JSON, once per resource: under row hash 2 the rows' hashes take the
// digest for the JSON, so an edit of the JSON alone shows only here (an
// edit of the digest changes every row hash under it). A resource no
// row names is no record's and is not checked against the chain (it
// cannot stand in for one: a row's hash holds its resource's digest, and
// a later ingest of the same JSON reuses it only if that is its JSON).
// resources is a table (checkLayout).
func checkResources(conn *sqlite3.Conn) error {
	st, _, err := conn.Prepare(`SELECT id, digest, json FROM resources ORDER BY id`)
	if err != nil {
		return err
	}
	defer st.Close()
	for st.Step() {
		d := sha256.Sum256(st.ColumnRawText(2)) // resourceDigest, on SQLite's copy: a resource of many MiB is not copied twice
		if st.ColumnType(1) != sqlite3.BLOB || !bytes.Equal(st.ColumnRawBlob(1), d[:]) {
			return &RowsError{Table: "resources", Reason: fmt.Sprintf("resource %d's digest is not the SHA-256 of its JSON: the resource was edited", st.ColumnInt64(0))}
		}
	}
	return st.Err()
}

// tally adds what a keyed entry says about rows to the expected tallies:
// a chain upgrade's baseline, an ingest's inserted rows, a retention
// run's deleted rows.
func tally(e AuditEntry, want map[string]*RowsTally, sums map[string]*rowSum) error {
	add := func(table string, rows int64, digest string, minus bool) error {
		w, ok := want[table]
		if !ok {
			return &ChainError{Seq: e.Seq, Reason: fmt.Sprintf("%s entry names unknown table %q", e.Kind, table)}
		}
		d, err := parseRowSum(digest)
		if err != nil {
			return &ChainError{Seq: e.Seq, Reason: err.Error()}
		}
		if minus {
			w.Rows -= rows
			sums[table].sub(d)
		} else {
			w.Rows += rows
			sums[table].plus(d)
		}
		return nil
	}
	switch e.Kind {
	case "ingest":
		var d ingestDetail
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			return &ChainError{Seq: e.Seq, Reason: "ingest detail: " + err.Error()}
		}
		if d.Lineage != nil {
			if err := add(lineageTable, d.Lineage.Rows, d.Lineage.Digest, false); err != nil {
				return err
			}
		}
		return add(tables[d.Signal], d.Records, d.RowsDigest, false)
	case "delivery":
		l, err := lineageTally(e.Detail)
		if err != nil || l == nil {
			return &ChainError{Seq: e.Seq, Reason: "delivery detail names no lineage rows"}
		}
		return add(lineageTable, l.Rows, l.Digest, false)
	case "chain_upgrade", "retention":
		var d struct {
			Rows    map[string]RowsTally `json:"rows"`
			Removed map[string]RowsTally `json:"removed"`
		}
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			return &ChainError{Seq: e.Seq, Reason: e.Kind + " detail: " + err.Error()}
		}
		for table, r := range d.Rows {
			if err := add(table, r.Rows, r.Digest, false); err != nil {
				return err
			}
		}
		for table, r := range d.Removed {
			if err := add(table, r.Rows, r.Digest, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// VerifyAudit checks the tenant's audit chain, and the data rows against
// it, on a read-only connection. A *ChainError names the first broken
// entry, a *RowsError a table whose rows the chain does not account for.
func (s *Store) VerifyAudit(tenant string) (VerifyResult, error) {
	conn, keys, err := s.openReadOnlyKey(tenant)
	if err != nil {
		return VerifyResult{}, err
	}
	defer conn.Close()
	return verifyChain(conn, keys.chain)
}

// AuditLog returns the tenant's audit entries with seq > after, in order.
func (s *Store) AuditLog(tenant string, after int64) ([]AuditEntry, error) {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st, _, err := conn.Prepare(`SELECT seq, time, kind, detail, policy_version, prev_hash, hash FROM audit WHERE seq > ? ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	_ = st.BindInt64(1, after)
	var out []AuditEntry
	for st.Step() {
		out = append(out, AuditEntry{Seq: st.ColumnInt64(0), Time: st.ColumnText(1), Kind: st.ColumnText(2), Detail: st.ColumnText(3),
			PolicyVersion: st.ColumnText(4), PrevHash: st.ColumnText(5), Hash: st.ColumnText(6)})
	}
	return out, st.Err()
}

// Audit appends an entry to the tenant's audit log in its own transaction.
func (s *Store) Audit(tenant, kind string, detail any, policyVersion string) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	return t.inTx(func() error {
		_, err := t.appendAudit(time.Now(), kind, detail, policyVersion)
		return err
	})
}
