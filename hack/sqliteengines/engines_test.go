//go:build ignore

// The same inserts through the two SQLite engines a Go program can have:
// ncruces/go-sqlite3 (SQLite compiled to WebAssembly and translated to Go,
// the local store's) and mattn/go-sqlite3 (SQLite's C through cgo). Each
// writes log_rows as the local store declares them (schema.go: the table
// and its two indexes) in WAL mode with synchronous=normal, 4,100 rows a
// transaction (the size of bench-e2e's local store batches), one
// statement per row, no encryption and no row hash: the engine alone.
// hack/sqlite-engines.sh runs it in a throwaway module (mattn is not a
// dependency of the project), alternating the two; the figure is rows per
// CPU-second of the process (getrusage), as bench-e2e's is.
package sqliteengines

import (
	"database/sql/driver"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	mattn "github.com/mattn/go-sqlite3"
	"github.com/ncruces/go-sqlite3"
)

const schema = `
CREATE TABLE log_rows (
  id INTEGER PRIMARY KEY, time_unix_nano INTEGER NOT NULL, observed_unix_nano INTEGER NOT NULL,
  ingested_unix_nano INTEGER NOT NULL, severity_number INTEGER NOT NULL, severity_text TEXT NOT NULL,
  body TEXT, trace_id TEXT, span_id TEXT, service_name TEXT, scope_name TEXT,
  resource_id INTEGER NOT NULL, attrs TEXT NOT NULL, lineage INTEGER);
CREATE INDEX log_rows_time ON log_rows(time_unix_nano);
CREATE INDEX log_rows_ahead ON log_rows(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano`

const insert = `INSERT INTO log_rows(time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, body, trace_id, span_id, service_name, scope_name, resource_id, attrs, lineage) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`

// A dirty bench-e2e record after redaction, about as the store holds it.
const (
	body  = "payment retry for a customer of [REDACTED:tenant], order 4411 failed at checkout"
	attrs = `{"customer.email":"****","redaction.classes":["tenant","email"],"redaction.count":2,"redaction.policy":"v3"}`
	batch = 4100
)

func row(n int64) []any {
	t := int64(1e18) + n*1000
	return []any{t, t, t, int64(9), "INFO", body, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "shop", "telemetrygen", int64(1), attrs, n}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func BenchmarkNcruces(b *testing.B) {
	c, err := sqlite3.Open(filepath.Join(b.TempDir(), "a.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Exec("PRAGMA journal_mode=wal; PRAGMA synchronous=normal;" + schema); err != nil {
		b.Fatal(err)
	}
	st, _, err := c.Prepare(insert)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var n int64
	start := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		if err := c.Exec("BEGIN"); err != nil {
			b.Fatal(err)
		}
		for range batch {
			n++
			for i, v := range row(n) {
				switch v := v.(type) {
				case int64:
					_ = st.BindInt64(i+1, v)
				case string:
					_ = st.BindText(i+1, v)
				}
			}
			if err := st.Exec(); err != nil {
				b.Fatal(err)
			}
		}
		if err := c.Exec("COMMIT"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(int64(b.N)*batch)/(cpuSeconds()-start), "rows/CPU-s")
}

// BenchmarkMattn drives mattn's connection directly, not through
// database/sql, whose own work per statement is not the engine's.
func BenchmarkMattn(b *testing.B) {
	dc, err := (&mattn.SQLiteDriver{}).Open(filepath.Join(b.TempDir(), "a.db"))
	if err != nil {
		b.Fatal(err)
	}
	c := dc.(*mattn.SQLiteConn)
	defer c.Close()
	for _, s := range append([]string{"PRAGMA journal_mode=wal", "PRAGMA synchronous=normal"}, strings.Split(schema, ";")...) {
		if _, err := c.Exec(s, nil); err != nil {
			b.Fatal(err)
		}
	}
	st, err := c.Prepare(insert)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	args := make([]driver.Value, 13)
	var n int64
	start := cpuSeconds()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Exec("BEGIN", nil); err != nil {
			b.Fatal(err)
		}
		for range batch {
			n++
			for i, v := range row(n) {
				args[i] = v
			}
			if _, err := st.Exec(args); err != nil { //nolint:staticcheck // the driver's own call, without database/sql
				b.Fatal(err)
			}
		}
		if _, err := c.Exec("COMMIT", nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(int64(b.N)*batch)/(cpuSeconds()-start), "rows/CPU-s")
}
