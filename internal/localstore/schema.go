package localstore

import "github.com/ncruces/go-sqlite3"

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
const schema = `
CREATE TABLE IF NOT EXISTS logs (
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
  resource            TEXT NOT NULL,
  attrs               TEXT NOT NULL,
  lineage             INTEGER
);
CREATE INDEX IF NOT EXISTS logs_time ON logs(time_unix_nano);
CREATE INDEX IF NOT EXISTS logs_ahead ON logs(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;

CREATE TABLE IF NOT EXISTS datapoints (
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
  resource              TEXT NOT NULL,
  attrs                 TEXT NOT NULL,
  lineage               INTEGER
);
CREATE INDEX IF NOT EXISTS datapoints_time ON datapoints(time_unix_nano);
CREATE INDEX IF NOT EXISTS datapoints_ahead ON datapoints(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX IF NOT EXISTS datapoints_name_time ON datapoints(metric_name, time_unix_nano);

CREATE TABLE IF NOT EXISTS spans (
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
  resource            TEXT NOT NULL,
  attrs               TEXT NOT NULL,
  events              TEXT,
  lineage             INTEGER
);
CREATE INDEX IF NOT EXISTS spans_time ON spans(time_unix_nano);
CREATE INDEX IF NOT EXISTS spans_ahead ON spans(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX IF NOT EXISTS spans_trace ON spans(trace_id);

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

// tables maps each signal to its table, for retention and time windows.
var tables = map[string]string{"logs": "logs", "metrics": "datapoints", "traces": "spans"}

// chainTables are the tables whose rows the audit chain accounts for: the
// records' and the lineage table.
var chainTables = []string{"datapoints", lineageTable, "logs", "spans"}

// migrate brings a database an older Tenancy created up to schema (which
// has run: new tables and indexes exist): the records' lineage column and
// the lineage rows' upstream. ADD COLUMN of a NULL column rewrites no row,
// so it is instant on any size; the row hashes skip such a column when
// NULL (addedColumn), so rows written before keep the hashes the chain
// has for them.
func migrate(conn *sqlite3.Conn) error {
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
