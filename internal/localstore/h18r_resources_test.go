package localstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// format0 is the record tables of format 0 (one row per record holding its
// resource's JSON), as the Tenancy before resources made them.
const format0 = `
CREATE TABLE logs (
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
CREATE INDEX logs_time ON logs(time_unix_nano);
CREATE INDEX logs_ahead ON logs(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;

CREATE TABLE datapoints (
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
CREATE INDEX datapoints_time ON datapoints(time_unix_nano);
CREATE INDEX datapoints_ahead ON datapoints(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX datapoints_name_time ON datapoints(metric_name, time_unix_nano);

CREATE TABLE spans (
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
CREATE INDEX spans_time ON spans(time_unix_nano);
CREATE INDEX spans_ahead ON spans(ingested_unix_nano) WHERE time_unix_nano > ingested_unix_nano;
CREATE INDEX spans_trace ON spans(trace_id);
`

// toFormat0 turns a format 2 database back into format 0: the views
// become the tables they stand for, with the same rows.
var toFormat0 = func() string {
	var b strings.Builder
	for _, v := range []string{"logs", "datapoints", "spans"} {
		b.WriteString("ALTER TABLE " + rowTables[v] + " RENAME TO old_" + rowTables[v] + ";")
	}
	b.WriteString("DROP VIEW logs; DROP VIEW datapoints; DROP VIEW spans;" + format0)
	for _, v := range []string{"logs", "datapoints", "spans"} {
		rt := "old_" + rowTables[v]
		b.WriteString("INSERT INTO " + v + " SELECT " + selectColumns(v, rt, func() string {
			return "(SELECT json FROM resources WHERE resources.id = " + rt + ".resource_id)"
		}) + " FROM " + rt + ";DROP TABLE " + rt + ";")
	}
	b.WriteString("DROP TABLE resources; PRAGMA user_version=0;")
	return b.String()
}()

// withService is ld with its first resource's service.name set to svc.
func withService(ld plog.Logs, svc string) plog.Logs {
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", svc)
	return ld
}

func TestH18rEachResourceStoredOnce(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	for i := range 3 {
		require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "a", "b"), "v1"))
		require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", now, "c"), "cart"), "v1"))
		require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", now, "m"), "v1"))
		require.NoError(t, s.WriteTraces("acme", tracesWith("acme", now, "t"), "v1"))
		_ = i
	}
	// One per distinct resource JSON, whatever the signal.
	var want int64
	for _, r := range query(t, s, "acme", `SELECT count(DISTINCT resource) FROM (SELECT resource FROM logs UNION ALL SELECT resource FROM datapoints UNION ALL SELECT resource FROM spans)`) {
		want = r[0].(int64)
	}
	assert.Equal(t, [][]any{{want}}, query(t, s, "acme", `SELECT count(*) FROM resources`))
	assert.Equal(t, [][]any{{`{"tenant.id":"acme","service.name":"shop"}`, int64(6)}, {`{"tenant.id":"acme","service.name":"cart"}`, int64(3)}},
		query(t, s, "acme", `SELECT resource, count(*) FROM logs GROUP BY resource ORDER BY min(id)`))
	_, err := s.VerifyAudit("acme")
	require.NoError(t, err)
}

// A format 0 database (before resources) is read as it is by read-only
// connections, and converted at a collector's first open: the same rows
// through the views, the chain verifying, the export unchanged.
func TestH18rFormat0IsConverted(t *testing.T) {
	dir, master := seededAs(t, true) // format 0 was on row hash 1
	s, err := Open(dir, master)
	require.NoError(t, err)
	s.rowHash1 = true // its queries' audit entries too
	wantRows := query(t, s, "acme", `SELECT * FROM logs ORDER BY id`)
	wantPoints := query(t, s, "acme", `SELECT * FROM datapoints ORDER BY id`)
	wantSpans := query(t, s, "acme", `SELECT * FROM spans ORDER BY id`)
	var before strings.Builder
	_, err = s.Export("acme", ExportOptions{Actor: "test"}, &before, "v1")
	require.NoError(t, err)
	require.NoError(t, s.Close())

	tamperDB(t, dir, master, "acme", toFormat0)
	s, err = Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	// Read-only, before any write: format 0 as it is.
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	conn, err := s.openReadOnly("acme")
	require.NoError(t, err)
	legacy, err := isTable(conn, "logs")
	conn.Close()
	require.NoError(t, err)
	require.True(t, legacy, "still format 0")
	var old strings.Builder
	_, err = s.Export("acme", ExportOptions{Actor: "test"}, &old, "v1")
	require.NoError(t, err)
	assert.Equal(t, before.String(), old.String())

	// The first write converts.
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now().Add(time.Hour), "after"), "v1"))
	conn, err = s.openReadOnly("acme")
	require.NoError(t, err)
	st, _, err := conn.Prepare(`PRAGMA user_version`)
	require.NoError(t, err)
	require.True(t, st.Step())
	assert.Equal(t, formatVersion, st.ColumnInt(0))
	require.NoError(t, st.Close())
	conn.Close()
	assert.Equal(t, [][]any{{"view"}}, query(t, s, "acme", `SELECT type FROM sqlite_schema WHERE name = 'logs'`))
	got := query(t, s, "acme", `SELECT * FROM logs ORDER BY id`)
	assert.Equal(t, wantRows, got[:len(got)-1])
	assert.Equal(t, wantPoints, query(t, s, "acme", `SELECT * FROM datapoints ORDER BY id`))
	assert.Equal(t, wantSpans, query(t, s, "acme", `SELECT * FROM spans ORDER BY id`))
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", `SELECT count(*) FROM resources`), "logs' one, and data points and spans share another")
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(15+1), res.Rows)
	var after strings.Builder
	_, err = s.Export("acme", ExportOptions{Actor: "test", Until: time.Now().Add(time.Minute)}, &after, "v1")
	require.NoError(t, err)
	assert.Equal(t, before.String(), after.String())

	// Retention after the conversion knows each resource's rows' age.
	_, err = s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalMetrics: time.Minute}, time.Now().Add(2*time.Minute), "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{int64(0)}}, query(t, s, "acme", `SELECT count(*) FROM datapoints`))
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", `SELECT count(*) FROM resources`), "the spans' rows name the data points' resource")
	_, err = s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalTraces: time.Minute}, time.Now().Add(2*time.Minute), "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{int64(1)}}, query(t, s, "acme", `SELECT count(*) FROM resources`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// Retention deletes a resource once no row of any signal names it, and a
// resource written again after that is stored again.
func TestH18rRetentionDeletesUnreferencedResources(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	old := now.Add(-48 * time.Hour)
	require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", old, "old"), "gone"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", old, "old-kept"), "kept"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", now, "new"), "kept"), "v1"))
	// A resource whose only old rows are logs, with spans too: kept while
	// its spans are.
	require.NoError(t, s.WriteTraces("acme", tracesWith("acme", old, "t"), "v1"))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", old, "old-shop"), "v1"))
	assert.Equal(t, [][]any{{int64(4)}}, query(t, s, "acme", `SELECT count(*) FROM resources`))

	d, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, int64(3), d[policy.SignalLogs])
	resources := func() [][]any {
		return query(t, s, "acme", `SELECT json_extract(json, '$."service.name"') FROM resources ORDER BY id`)
	}
	assert.Equal(t, [][]any{{"kept"}, {nil}}, resources(), "gone's rows are all gone; the spans' resource stays")

	_, err = s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalTraces: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"kept"}}, resources())

	// Written again: stored again, not named by a stale id.
	require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", now, "back"), "gone"), "v1"))
	assert.Equal(t, [][]any{{`{"tenant.id":"acme","service.name":"gone"}`}}, query(t, s, "acme", `SELECT resource FROM logs WHERE body = 'back'`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// Another process's retention run deletes a resource this store has
// cached: the next write stores it again instead of naming the id gone.
func TestH18rResourceDeletedByAnotherStore(t *testing.T) {
	s, master := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now.Add(-48*time.Hour), "old"), "v1"))
	c, err := Open(s.Dir(), master)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "new"), "v1"))
	assert.Equal(t, [][]any{{`{"tenant.id":"acme","service.name":"shop"}`}}, query(t, s, "acme", `SELECT resource FROM logs`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// A batch that fails half way leaves no resource cached that its
// rollback removed.
func TestH18rRolledBackResourceNotCached(t *testing.T) {
	s, _ := openStore(t)
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	boom := assert.AnError
	require.ErrorIs(t, tdb.inTx(func() error {
		if _, _, err := tdb.resourceID(`{"tenant.id":"acme","service.name":"shop"}`); err != nil {
			return err
		}
		return boom
	}), boom)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withService(logsWith("acme", time.Now(), "a"), "x"), "v1"))
	assert.Equal(t, [][]any{{`{"tenant.id":"acme","service.name":"shop"}`}, {`{"tenant.id":"acme","service.name":"x"}`}},
		query(t, s, "acme", `SELECT resource FROM logs ORDER BY id`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// The forensic query reads through the views and may read the tables
// under them, and still changes nothing.
func TestH18rQueryThroughViews(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "a", "b"), "v1"))
	res, err := s.Query(context.Background(), "acme", `SELECT body, json_extract(resource, '$."service.name"') FROM logs ORDER BY id`,
		QueryOptions{Actor: "test", Since: now.Add(-time.Minute), Until: now.Add(time.Minute)}, "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"a", "shop"}, {"b", "shop"}}, res.Rows)
	res, err = s.Query(context.Background(), "acme", `SELECT count(*) FROM resources`, QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{int64(1)}}, res.Rows)
	for _, q := range []string{
		`DELETE FROM log_rows`, `UPDATE resources SET json = '{}'`, `INSERT INTO logs(body) VALUES ('x')`, `DROP VIEW logs`,
		`CREATE TEMP VIEW v AS SELECT 1`, `DELETE FROM resources`,
	} {
		_, err := s.Query(context.Background(), "acme", q, QueryOptions{Actor: "test"}, "v1")
		require.Error(t, err, q)
	}
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", `SELECT count(*) FROM logs`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// BenchmarkH18rConvertFormat0 converts a format 0 database of 41,000
// bench-e2e-like log rows (10 batches of BenchmarkWriteLogsE2E's) at its
// first open: the one-off cost of format 2 on an existing store.
func BenchmarkH18rConvertFormat0(b *testing.B) {
	ld := e2eLikeLogs(false, 41)
	for b.Loop() {
		b.StopTimer()
		s, master := openStore(b)
		s.rowHash1 = true // format 0 was on row hash 1
		for range 10 {
			restamp(ld, time.Now())
			if err := s.WriteLogs("tenant-0000", ld, "v1"); err != nil {
				b.Fatal(err)
			}
		}
		dir := s.Dir()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		kf, err := readKeyFile(filepath.Join(dir, "tenant-0000"), "tenant-0000")
		if err != nil {
			b.Fatal(err)
		}
		key, err := unwrapKey(master, kf)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := openConn(filepath.Join(dir, "tenant-0000", dbFileName), key, false)
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Exec(toFormat0 + "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			b.Fatal(err)
		}
		conn.Close()
		s, err = Open(dir, master)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := s.tenant("tenant-0000"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := s.VerifyAudit("tenant-0000"); err != nil {
			b.Fatal(err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(41000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestH18rDistinctHugeResourcesHeap: each resource goes into SQLite once,
// its binding cleared after, so a batch of several distinct 3 MiB
// resources needs no more of SQLite's heap than a batch of one.
func TestH18rDistinctHugeResourcesHeap(t *testing.T) {
	batch := func(resources int) plog.Logs {
		ld := plog.NewLogs()
		for r := range resources {
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("service.name", "svc")
			rl.Resource().Attributes().PutStr("big", strings.Repeat(string(rune('a'+r)), 3<<20))
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
			lr.Body().SetStr("r")
		}
		return ld
	}
	lowest := map[int]int{}
	for _, n := range []int{1, 6} {
		for limit := 4 << 20; limit <= 60<<20; limit += 1 << 20 {
			s, _ := openStore(t)
			require.NoError(t, s.WriteLogs("acme", plog.NewLogs(), "v1"))
			td, err := s.tenant("acme")
			require.NoError(t, err)
			td.mu.Lock()
			err = td.conn.Exec(fmt.Sprintf("PRAGMA hard_heap_limit=%d", limit))
			td.mu.Unlock()
			require.NoError(t, err)
			write := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				return s.WriteLogs("acme", batch(n), "v1")
			}
			if write() == nil {
				lowest[n] = limit
				break
			}
		}
	}
	t.Logf("lowest hard_heap_limit: one 3 MiB resource %d MiB, six %d MiB", lowest[1]>>20, lowest[6]>>20)
	require.NotZero(t, lowest[1])
	require.NotZero(t, lowest[6])
	assert.LessOrEqual(t, lowest[6], lowest[1]+(1<<20))
}
