package localstore

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"

	"github.com/ncruces/go-sqlite3"
)

// schema is every tenant database's layout. Times are Unix nanoseconds;
// attribute columns hold JSON objects, so json_extract(attrs, '$.key')
// works in forensic queries. time_unix_nano is the record's own time (log
// timestamp, else observed time, else ingestion time; a data point's time;
// a span's start), at most 2^63-1. Retention ages a row from its time, or
// from its ingestion when its time is later than that (a clock in the
// future, or a year-2200 timestamp, must not keep a row forever): the
// *_ahead partial indexes hold only such rows, so finding them is cheap.
// JSON columns hold NaN and ±Inf as the strings "NaN", "+Inf", "-Inf"; the
// REAL columns value and sum hold NaN as NULL (SQLite has no NaN).
//
// Each distinct resource is stored once, in resources (its JSON and the
// SHA-256 of that JSON, which ingest looks resources up by); the record
// rows live in log_rows, datapoint_rows and span_rows and name their
// resource by resource_id. The views logs, datapoints and spans (views())
// give every record with its resource's JSON as the column resource, in
// the columns and order the tables of those names had before (format 2,
// user_version): queries, exports, backups and the audit chain's row
// hashes read them and see what they saw. A resource's *_until is the
// latest age (the earlier of time and ingestion, what retention compares
// with its cutoff) of its rows of that signal, NULL once it has none:
// retention deletes a resource when all three are NULL.
const schema = `
CREATE TABLE IF NOT EXISTS resources (
  id                INTEGER PRIMARY KEY,
  digest            BLOB NOT NULL UNIQUE,
  json              TEXT NOT NULL,
  logs_until        INTEGER,
  datapoints_until  INTEGER,
  spans_until       INTEGER
);

CREATE TABLE IF NOT EXISTS log_rows (
  id                  INTEGER PRIMARY KEY,
  time_unix_nano      INTEGER NOT NULL,
  observed_unix_nano  INTEGER NOT NULL,
  ingested_unix_nano  INTEGER NOT NULL,
  severity_number     INTEGER NOT NULL,
  severity_text       TEXT NOT NULL,
  body                TEXT,
  trace_id            TEXT,
  span_id             TEXT,
  service_name        TEXT,
  scope_name          TEXT,
  resource_id         INTEGER NOT NULL,
  attrs               TEXT NOT NULL,
  lineage             INTEGER
);
CREATE INDEX IF NOT EXISTS log_rows_time ON log_rows(time_unix_nano);
CREATE INDEX IF NOT EXISTS log_rows_ahead ON log_rows(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;

CREATE TABLE IF NOT EXISTS datapoint_rows (
  id                    INTEGER PRIMARY KEY,
  time_unix_nano        INTEGER NOT NULL,
  start_time_unix_nano  INTEGER NOT NULL,
  ingested_unix_nano    INTEGER NOT NULL,
  metric_name           TEXT NOT NULL,
  metric_type           TEXT NOT NULL,
  unit                  TEXT NOT NULL,
  value                 REAL,
  count                 INTEGER,
  sum                   REAL,
  detail                TEXT,
  service_name          TEXT,
  scope_name            TEXT,
  resource_id           INTEGER NOT NULL,
  attrs                 TEXT NOT NULL,
  lineage               INTEGER
);
CREATE INDEX IF NOT EXISTS datapoint_rows_time ON datapoint_rows(time_unix_nano);
CREATE INDEX IF NOT EXISTS datapoint_rows_ahead ON datapoint_rows(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX IF NOT EXISTS datapoint_rows_name_time ON datapoint_rows(metric_name, time_unix_nano);

CREATE TABLE IF NOT EXISTS span_rows (
  id                  INTEGER PRIMARY KEY,
  time_unix_nano      INTEGER NOT NULL,
  end_unix_nano       INTEGER NOT NULL,
  ingested_unix_nano  INTEGER NOT NULL,
  trace_id            TEXT NOT NULL,
  span_id             TEXT NOT NULL,
  parent_span_id      TEXT NOT NULL,
  name                TEXT NOT NULL,
  kind                TEXT NOT NULL,
  status_code         TEXT NOT NULL,
  status_message      TEXT NOT NULL,
  service_name        TEXT,
  scope_name          TEXT,
  resource_id         INTEGER NOT NULL,
  attrs               TEXT NOT NULL,
  events              TEXT,
  lineage             INTEGER
);
CREATE INDEX IF NOT EXISTS span_rows_time ON span_rows(time_unix_nano);
CREATE INDEX IF NOT EXISTS span_rows_ahead ON span_rows(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX IF NOT EXISTS span_rows_trace ON span_rows(trace_id);

CREATE TABLE IF NOT EXISTS lineage (
  id                   INTEGER PRIMARY KEY,
  lineage_id           TEXT NOT NULL,
  signal               TEXT NOT NULL,
  backend              TEXT NOT NULL,
  accepted_unix_nano   INTEGER NOT NULL,
  delivered_unix_nano  INTEGER NOT NULL,
  records              INTEGER NOT NULL,
  first_id             INTEGER,
  last_id              INTEGER,
  receiver             TEXT NOT NULL,
  client               TEXT NOT NULL,
  tenant               TEXT NOT NULL,
  auth                 TEXT NOT NULL,
  credential           TEXT NOT NULL,
  collector            TEXT NOT NULL,
  policy_version       TEXT NOT NULL,
  decision             TEXT NOT NULL,
  redactions           TEXT NOT NULL,
  retention            TEXT NOT NULL,
  audit_seq            INTEGER NOT NULL,
  upstream             TEXT
);
CREATE INDEX IF NOT EXISTS lineage_by_id ON lineage(lineage_id);
CREATE INDEX IF NOT EXISTS lineage_accepted ON lineage(accepted_unix_nano);

CREATE TABLE IF NOT EXISTS audit (
  seq             INTEGER PRIMARY KEY,
  time            TEXT NOT NULL,
  kind            TEXT NOT NULL,
  detail          TEXT NOT NULL,
  policy_version  TEXT NOT NULL,
  prev_hash       TEXT NOT NULL,
  hash            TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`

// tables maps each signal to its table (a view since format 2: views),
// for retention, time windows and the row hashes.
var tables = map[string]string{"logs": "logs", "metrics": "datapoints", "traces": "spans"}

// rowTables maps each view to the table that holds its rows.
var rowTables = map[string]string{"logs": "log_rows", "datapoints": "datapoint_rows", "spans": "span_rows"}

// viewColumns are each view's columns after id, in order (write.go).
var viewColumns = map[string][]string{"logs": logColumns, "datapoints": pointColumns, "spans": spanColumns}

// PRAGMA user_version: 0 the tables of one row per record with its
// resource's JSON in it (format 0), 2 resources and views (viewsVersion),
// 3 the same layout with the rows hashed under row hash 2 (formatVersion,
// the highest this Tenancy knows: it refuses to open a database marked
// higher). 3 is the writer's hint, set in the transaction that appends the
// chain's "row_hash_upgrade" entry (upgradeRowHash); audit verify goes by
// the entry. A Tenancy of format 2 opening a database of 3 sets it back
// to 2 and writes row hash 1 sums: audit verify then fails on the tables
// it wrote (docs/decisions.md).
const (
	viewsVersion  = 2
	formatVersion = 3
)

// resourceColumn is the views' column of the resource's JSON.
const resourceColumn = "resource"

// rowColumns is cols with the view's resource replaced by its table's
// resource_id.
func rowColumns(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		if c == resourceColumn {
			c = "resource_id"
		}
		out[i] = c
	}
	return out
}

// selectColumns is what reads a view's rows from its table r (and the
// resource's JSON, or what stands for it, from resources, through json):
// id, then each column.
func selectColumns(view, r string, json func() string) string {
	var b strings.Builder
	b.WriteString(r + ".id AS id")
	for _, c := range viewColumns[view] {
		b.WriteString(", ")
		if c == resourceColumn {
			b.WriteString(json())
		} else {
			b.WriteString(r + "." + c)
		}
		b.WriteString(" AS " + c)
	}
	return b.String()
}

// views is the SQL creating the views: each is its table's rows as row
// hash 1 takes them (hashedRows). A LEFT JOIN: a row whose resource went
// missing still shows (its resource NULL, which its hash does not match),
// and a query that reads no resource skips resources.
func views() string {
	var b strings.Builder
	for _, v := range []string{"logs", "datapoints", "spans"} {
		fmt.Fprintf(&b, "CREATE VIEW IF NOT EXISTS %s AS %s;\n", v, hashedRows(v, rowHash1))
	}
	return b.String()
}

// hashedRows is the SELECT (without WHERE or ORDER BY) of a chain
// table's rows as row hash v takes them (sumRows): id, then the view's
// columns from the rows table, with the resource's JSON (row hash 1: what
// the view gives) or its digest (row hash 2, so no resource's JSON is
// read per row) in column resource. It reads the tables, not the views:
// a view redefined in the file cannot show the hashes other rows than it
// shows a query (audit verify checks the views are views()'s). The
// lineage table has no resource: the same under both. Every row hash of
// data rows (ingest aside, which hashes the values it binds), retention's,
// audit verify's, a backup's and the upgrades', reads through it; a
// database of format 0 (legacy) is read as its tables are (sumTables).
func hashedRows(table string, v int) string {
	if rowTables[table] == "" {
		return "SELECT * FROM " + table
	}
	res := "res.json"
	if v >= rowHash2 {
		res = "res.digest"
	}
	return "SELECT " + selectColumns(table, "r", func() string { return res }) + " FROM " + rowTables[table] +
		" AS r LEFT JOIN resources AS res ON res.id = r.resource_id"
}

// layoutTables are the tables under the views, in a database of format 2
// or later.
var layoutTables = []string{"resources", "log_rows", "datapoint_rows", "span_rows"}

// checkLayout says whether the database is of format 0 (legacy: the
// tables logs, datapoints and spans), and otherwise checks that the
// views are views()'s and the tables under them tables: queries, exports
// and lineage read the views and resources' JSON, the row hashes the
// tables and resources' digests (hashedRows), so a view redefined in the
// file, or resources replaced by a view, would show queries rows the
// chain does not account for while the hashes pass.
//
// Format 0 is the three record tables; never under a chain on row hash 2
// (v), which a Tenancy of format 3 begins or upgrades only once it has
// converted the database, at its open.
func checkLayout(conn *sqlite3.Conn, v int) (legacy bool, err error) {
	tables := 0
	for _, name := range []string{"logs", "datapoints", "spans"} {
		is, err := isTable(conn, name)
		if err != nil {
			return false, err
		}
		if is {
			tables++
		}
	}
	switch {
	case tables == 3 && v >= rowHash2:
		return false, &RowsError{Table: "logs", Reason: "the database has format 0's tables under a chain on row hash 2, which is only written after the conversion: its layout was changed outside the store"}
	case tables == 3:
		return true, nil
	case tables > 0:
		return false, &RowsError{Table: "logs", Reason: "the database has some of format 0's tables and some of the views: its layout was changed outside the store"}
	}
	want, err := canonicalViews()
	if err != nil {
		return false, err
	}
	st, _, err := conn.Prepare(`SELECT type, sql FROM sqlite_schema WHERE name = ?`)
	if err != nil {
		return false, err
	}
	defer st.Close()
	check := func(name, typ, sql string) error {
		_ = st.BindText(1, name)
		ok := st.Step() && st.ColumnText(0) == typ && (sql == "" || st.ColumnText(1) == sql) && !st.Step()
		if err := st.Reset(); err != nil {
			return err
		}
		if !ok {
			return &RowsError{Table: name, Reason: fmt.Sprintf("the database's %s is not the %s the store made: its layout was changed outside the store", name, typ)}
		}
		return nil
	}
	for _, name := range layoutTables {
		if err := check(name, "table", ""); err != nil {
			return false, err
		}
	}
	for _, name := range []string{"logs", "datapoints", "spans"} {
		if err := check(name, "view", want[name]); err != nil {
			return false, err
		}
	}
	return false, nil
}

var canonical struct {
	once  sync.Once
	views map[string]string
	err   error
}

// canonicalViews is the SQL sqlite_schema holds for each of views()'s
// views (SQLite normalizes the statement: made once, in memory).
func canonicalViews() (map[string]string, error) {
	canonical.once.Do(func() {
		conn, err := sqlite3.Open(":memory:")
		if err != nil {
			canonical.err = err
			return
		}
		defer conn.Close()
		if err := conn.Exec(schema + views()); err != nil {
			canonical.err = err
			return
		}
		st, _, err := conn.Prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'view'`)
		if err != nil {
			canonical.err = err
			return
		}
		defer st.Close()
		canonical.views = map[string]string{}
		for st.Step() {
			canonical.views[st.ColumnText(0)] = st.ColumnText(1)
		}
		canonical.err = st.Err()
	})
	return canonical.views, canonical.err
}

// chainTables are the tables whose rows the audit chain accounts for: the
// records' and the lineage table.
var chainTables = []string{"datapoints", lineageTable, "logs", "spans"}

// migrate brings a database an older Tenancy created up to schema (which
// has run: new tables and indexes exist): the records' lineage column and
// the lineage rows' upstream. ADD COLUMN of a NULL column rewrites no row,
// so it is instant on any size; the row hashes skip such a column when
// NULL (addedColumn), so rows written before keep the hashes the chain
// has for them.
//
// Then a database of format 0 (the tables logs, datapoints and spans
// holding each row's resource JSON) is converted, in one transaction:
// every distinct resource into resources, every row into its *_rows table
// with the same id and values (its resource's id for its JSON), the old
// tables dropped and the views made. The views give the rows as the
// tables did, so the row hashes and the audit chain verify as before.
// It reads and writes every row once: a one-off, at the first open by a
// Tenancy of format 2.
func migrate(conn *sqlite3.Conn) error {
	legacy, err := isTable(conn, "logs")
	if err != nil {
		return err
	}
	if legacy {
		if err := migrateColumns(conn); err != nil {
			return err
		}
		if err := convertLegacy(conn); err != nil {
			return fmt.Errorf("convert to format %d: %w", viewsVersion, err)
		}
	} else if has, err := hasColumn(conn, lineageTable, upstreamColumn); err != nil {
		return err
	} else if !has {
		if err := conn.Exec("ALTER TABLE " + lineageTable + " ADD COLUMN " + upstreamColumn + " TEXT"); err != nil {
			return err
		}
	}
	if v, err := userVersion(conn); err != nil || v >= viewsVersion {
		return err
	}
	return conn.Exec(views() + fmt.Sprintf("PRAGMA user_version=%d;", viewsVersion))
}

// userVersion is the database's PRAGMA user_version.
func userVersion(conn *sqlite3.Conn) (int, error) {
	st, _, err := conn.Prepare("PRAGMA user_version")
	if err != nil {
		return 0, err
	}
	defer st.Close()
	st.Step()
	return st.ColumnInt(0), st.Err()
}

// knownFormat refuses a database of a format newer than this Tenancy
// knows: before anything creates or reads a table in it (its writer may
// hash rows or lay them out otherwise; verifying it here would report
// edits that are not).
func knownFormat(conn *sqlite3.Conn) error {
	v, err := userVersion(conn)
	if err == nil && v > formatVersion {
		err = fmt.Errorf("the database is of format %d, newer than this Tenancy knows (%d): use the Tenancy that wrote it", v, formatVersion)
	}
	return err
}

// migrateColumns adds the columns format 0 gained over time.
func migrateColumns(conn *sqlite3.Conn) error {
	for _, c := range [][3]string{{"logs", lineageColumn, "INTEGER"}, {"datapoints", lineageColumn, "INTEGER"}, {"spans", lineageColumn, "INTEGER"},
		{lineageTable, upstreamColumn, "TEXT"}} {
		has, err := hasColumn(conn, c[0], c[1])
		if err != nil {
			return err
		}
		if !has {
			if err := conn.Exec("ALTER TABLE " + c[0] + " ADD COLUMN " + c[1] + " " + c[2]); err != nil {
				return err
			}
		}
	}
	return nil
}

func hasColumn(conn *sqlite3.Conn, table, column string) (bool, error) {
	st, _, err := conn.Prepare("SELECT 1 FROM pragma_table_info(?) WHERE name = ?")
	if err != nil {
		return false, err
	}
	defer st.Close()
	_ = st.BindText(1, table)
	_ = st.BindText(2, column)
	has := st.Step()
	return has, st.Err()
}

func isTable(conn *sqlite3.Conn, name string) (bool, error) {
	st, _, err := conn.Prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?")
	if err != nil {
		return false, err
	}
	defer st.Close()
	_ = st.BindText(1, name)
	has := st.Step()
	return has, st.Err()
}

// resourceDigest is what resources are looked up by: SHA-256 of the JSON.
func resourceDigest(json string) [32]byte { return sha256.Sum256([]byte(json)) }

// digestFunc is resourceDigest as the SQL function tenancy_resource_digest
// (the conversion's).
const digestFunc = "tenancy_resource_digest"

// convertLegacy converts a format 0 database (migrate).
func convertLegacy(conn *sqlite3.Conn) (err error) {
	if err := conn.CreateFunction(digestFunc, 1, sqlite3.DETERMINISTIC, func(ctx sqlite3.Context, arg ...sqlite3.Value) {
		d := sha256.Sum256(arg[0].RawText())
		ctx.ResultBlob(d[:])
	}); err != nil {
		return err
	}
	defer func() { _ = conn.CreateFunction(digestFunc, 1, 0, nil) }()
	if err := conn.Exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = conn.Exec("ROLLBACK")
		}
	}()
	// Another process may have converted it since migrate looked, outside
	// any transaction: converting again would fail (the ids copied, DROP
	// TABLE of a view), and with it this open.
	if legacy, err := isTable(conn, "logs"); err != nil {
		return err
	} else if !legacy {
		return conn.Exec("COMMIT")
	}
	var b strings.Builder
	for _, v := range []string{"logs", "datapoints", "spans"} {
		rt := rowTables[v]
		all := append([]string{"id"}, rowColumns(viewColumns[v])...)
		fmt.Fprintf(&b, "INSERT OR IGNORE INTO resources(digest, json) SELECT %s(resource), resource FROM %s;\n", digestFunc, v)
		fmt.Fprintf(&b, "INSERT INTO %s(%s) SELECT %s FROM %s AS r ORDER BY r.id;\n", rt, strings.Join(all, ", "),
			selectColumns(v, "r", func() string {
				return "(SELECT res.id FROM resources AS res WHERE res.digest = " + digestFunc + "(r.resource))"
			}), v)
		fmt.Fprintf(&b, "UPDATE resources SET %[1]s_until = m.u FROM (SELECT resource_id, max(min(time_unix_nano, ingested_unix_nano)) AS u FROM %[2]s GROUP BY resource_id) AS m WHERE m.resource_id = resources.id;\n", v, rt)
		fmt.Fprintf(&b, "DROP TABLE %s;\n", v)
	}
	if err := conn.Exec(b.String()); err != nil {
		return err
	}
	if err := conn.Exec(views()); err != nil {
		return err
	}
	return conn.Exec("COMMIT")
}
