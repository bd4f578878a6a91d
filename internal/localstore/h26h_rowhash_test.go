package localstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Row hash 2 (digest.go): the rows' hashes take their resource's digest
// for its JSON; a database of row hash 1 is upgraded at its first write
// by a "row_hash_upgrade" entry; audit verify goes by the chain.

// h26hOpen opens the store at dir, writing as a Tenancy of format 2 when
// old is set (Store.rowHash1).
func h26hOpen(t *testing.T, dir string, master []byte, old bool) *Store {
	t.Helper()
	s, err := Open(dir, master)
	require.NoError(t, err)
	s.rowHash1 = old
	t.Cleanup(func() { s.Close() })
	return s
}

// h26hFormat is acme's PRAGMA user_version, read-only.
func h26hFormat(t *testing.T, s *Store) int {
	t.Helper()
	conn, err := s.openReadOnly("acme")
	require.NoError(t, err)
	defer conn.Close()
	v, err := userVersion(conn)
	require.NoError(t, err)
	return v
}

func h26hKinds(t *testing.T, s *Store, kind string) []AuditEntry {
	t.Helper()
	log, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	var out []AuditEntry
	for _, e := range log {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// h26hVerify is acme's audit verify on a store of its own, closed after.
func h26hVerify(t *testing.T, dir string, master []byte) (VerifyResult, error) {
	t.Helper()
	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	return s.VerifyAudit("acme")
}

// A new database is on row hash 2 from its first entry (its prev_hash
// says so: no upgrade entry), through ingest, retention and a backup.
func TestH26hNewDatabaseIsOnRowHash2(t *testing.T) {
	dir, master := seeded(t)
	s := h26hOpen(t, dir, master, false)
	log, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	assert.Equal(t, genesisRowHash2, log[0].PrevHash)
	assert.Empty(t, h26hKinds(t, s, rowHashUpgrade))
	assert.Equal(t, formatVersion, h26hFormat(t, s))
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, rowHash2, res.RowHash)
	assert.Equal(t, int64(0), res.RowHashSeq)

	// Rows of a 1 MiB resource hash like any: what the ingest entry has
	// is what verify finds, and retention takes them off.
	old := time.Now().Add(-48 * time.Hour)
	big := h26hLogs(1<<20, old)
	require.NoError(t, s.WriteLogs("acme", big, "v1"))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	d, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
	require.NoError(t, err)
	assert.Equal(t, int64(h26hRows), d[policy.SignalLogs])
	res, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(15), res.Rows)

	out := t.TempDir()
	info, err := s.Backup("acme", out, "v1")
	require.NoError(t, err)
	fresh := h26hOpen(t, t.TempDir(), master, false)
	_, err = fresh.Restore(filepath.Join(out, "acme"), "v1")
	require.NoError(t, err)
	res, err = fresh.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, info.Rows, res.Rows)
	assert.Equal(t, rowHash2, res.RowHash)
}

// A database a Tenancy of format 2 wrote verifies as it is (row hash 1,
// read-only); the first write upgrades it in one entry that holds the
// tallies under both hashes; retention before and after, and a backup of
// it taken before, restored after, verify.
func TestH26hRowHash1DatabaseIsUpgraded(t *testing.T) {
	dir, master := seededAs(t, true)
	old := h26hOpen(t, dir, master, true)
	now := time.Now()
	require.NoError(t, old.WriteLogs("acme", logsWith("acme", now.Add(-48*time.Hour), "aged1", "aged2"), "v1"))
	require.NoError(t, old.WriteLogs("acme", logsWith("acme", now.Add(-30*time.Hour), "aged3"), "v1"))
	_, err := old.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 40 * time.Hour}, now, "v1")
	require.NoError(t, err)
	out := t.TempDir()
	_, err = old.Backup("acme", out, "v1")
	require.NoError(t, err)
	require.NoError(t, old.Close())

	res, err := h26hVerify(t, dir, master)
	require.NoError(t, err)
	assert.Equal(t, rowHash1, res.RowHash)
	assert.Equal(t, int64(16), res.Rows)

	s := h26hOpen(t, dir, master, false)
	assert.Equal(t, viewsVersion, h26hFormat(t, s))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "after"), "v1"))
	assert.Equal(t, formatVersion, h26hFormat(t, s))
	ups := h26hKinds(t, s, rowHashUpgrade)
	require.Len(t, ups, 1)
	var d struct {
		RowHash int                  `json:"row_hash"`
		Before  map[string]RowsTally `json:"before"`
		Rows    map[string]RowsTally `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(ups[0].Detail), &d))
	assert.Equal(t, rowHash2, d.RowHash)
	assert.Equal(t, int64(7), d.Before["logs"].Rows)
	assert.Equal(t, int64(7), d.Rows["logs"].Rows)
	assert.NotEqual(t, d.Before["logs"].Digest, d.Rows["logs"].Digest)
	assert.Equal(t, d.Before["lineage"], d.Rows["lineage"], "the lineage table has no resource")
	res, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, rowHash2, res.RowHash)
	assert.Equal(t, ups[0].Seq, res.RowHashSeq)
	assert.Equal(t, int64(17), res.Rows)

	// Retention after the upgrade removes row hash 2 sums.
	deleted, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), deleted[policy.SignalLogs])
	res, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(16), res.Rows)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "later"), "v1"))
	assert.Len(t, h26hKinds(t, s, rowHashUpgrade), 1, "upgraded once")
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)

	// The backup taken before is restored (verified on row hash 1) and
	// upgraded by its restore entry.
	fresh := h26hOpen(t, t.TempDir(), master, false)
	_, err = fresh.Restore(filepath.Join(out, "acme"), "v1")
	require.NoError(t, err)
	res, err = fresh.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, rowHash2, res.RowHash)
	assert.Len(t, h26hKinds(t, fresh, rowHashUpgrade), 1)
}

// An upgrade whose transaction rolls back is made again by the next.
func TestH26hRolledBackUpgradeIsMadeAgain(t *testing.T) {
	dir, master := seededAs(t, true)
	s := h26hOpen(t, dir, master, false)
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	require.ErrorIs(t, tdb.inTx(func() error { return assert.AnError }), assert.AnError)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v1"))
	assert.Len(t, h26hKinds(t, s, rowHashUpgrade), 1)
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// sqlDigest is the SQL blob literal of SHA-256 of s.
func sqlDigest(s string) string {
	d := sha256.Sum256([]byte(s))
	return "x'" + hex.EncodeToString(d[:]) + "'"
}

// Tampering with the resources, on a database of row hash 1 (read-only:
// not upgraded), of row hash 2 from its start, and of row hash 1 upgraded.
// Each case names the table whose check catches it under row hash 1 and 2.
func TestH26hResourceTampering(t *testing.T) {
	// seeded's acme has two resources: logs' (id 1) and the data points'
	// and spans' (id 2).
	forged := `{"tenant.id":"acme","service.name":"forged"}`
	for _, tc := range []struct {
		name, sql string
		v1, v2    string // the table named, "" for none (verifies)
	}{
		{"resource deleted", `DELETE FROM resources WHERE id = 1`, "logs", "logs"},
		{"a row re-pointed to another resource", `UPDATE span_rows SET resource_id = 1 WHERE id = 2`, "spans", "spans"},
		{"json edited, digest kept", `UPDATE resources SET json = '` + forged + `' WHERE id = 2`, "datapoints", "resources"},
		{"digest edited, json kept", `UPDATE resources SET digest = ` + sqlDigest(forged) + ` WHERE id = 2`, "resources", "datapoints"},
		{"digest stored as text", `UPDATE resources SET digest = CAST(digest AS TEXT) WHERE id = 1`, "resources", "resources"},
		{"json and digest edited together", `UPDATE resources SET json = '` + forged + `', digest = ` + sqlDigest(forged) + ` WHERE id = 2`, "datapoints", "datapoints"},
		{"json and digest swapped between resources", `UPDATE resources SET id = -id; UPDATE resources SET id = 3 + id WHERE id < 0`, "datapoints", "datapoints"},
		// No row names it: no record's, and its digest is its JSON's.
		{"a resource inserted unreferenced", `INSERT INTO resources(digest, json) VALUES (` + sqlDigest(forged) + `, '` + forged + `')`, "", ""},
		{"a resource inserted unreferenced with a wrong digest", `INSERT INTO resources(digest, json) VALUES (` + sqlDigest("{}") + `, '` + forged + `')`, "resources", "resources"},
	} {
		for _, at := range []string{"row hash 1", "row hash 2", "upgraded"} {
			t.Run(tc.name+"/"+at, func(t *testing.T) {
				dir, master := seededAs(t, at != "row hash 2")
				if at == "upgraded" {
					s := h26hOpen(t, dir, master, false)
					require.NoError(t, s.Audit("acme", "note", map[string]any{}, "v1"))
					require.Len(t, h26hKinds(t, s, rowHashUpgrade), 1)
					require.NoError(t, s.Close())
				}
				tamperDB(t, dir, master, "acme", tc.sql)
				res, err := h26hVerify(t, dir, master)
				want := tc.v2
				if at == "row hash 1" {
					want = tc.v1
					assert.Equal(t, rowHash1, res.RowHash)
				}
				if want == "" {
					require.NoError(t, err)
					return
				}
				var re *RowsError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, want, re.Table, re.Reason)
				assert.Contains(t, re.Reason, "edited")
			})
		}
	}
}

// Rows edited before the upgrade are hashed as they are by it: verify
// finds its "before" is not what the chain accounted for. A digest edited
// before it (row hash 1 does not hash it) is caught by the resources'
// check after.
func TestH26hTamperingBeforeTheUpgrade(t *testing.T) {
	for _, tc := range []struct{ name, sql, table, reason string }{
		{"edited log", `UPDATE log_rows SET body = 'forged' WHERE id = 2`, "logs", "edited or replaced before it"},
		{"deleted span", `DELETE FROM span_rows WHERE id = 2`, "spans", "inserted or deleted before it"},
		{"edited resource json", `UPDATE resources SET json = '{}' WHERE id = 1`, "logs", "edited or replaced before it"},
		{"edited resource digest", `UPDATE resources SET digest = ` + sqlDigest("{}") + ` WHERE id = 1`, "resources", "edited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seededAs(t, true)
			tamperDB(t, dir, master, "acme", tc.sql)
			s := h26hOpen(t, dir, master, false)
			require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v1"))
			require.Len(t, h26hKinds(t, s, rowHashUpgrade), 1)
			_, err := s.VerifyAudit("acme")
			var re *RowsError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.table, re.Table, re.Reason)
			assert.Contains(t, re.Reason, tc.reason)
		})
	}
}

// The crossings: a database marked row hash 2 whose chain says nothing
// of it, a second upgrade entry, a Tenancy of format 2 writing to an
// upgraded database, a database of a newer format.
func TestH26hCrossings(t *testing.T) {
	t.Run("marked but no entry", func(t *testing.T) {
		dir, master := seededAs(t, true)
		tamperDB(t, dir, master, "acme", `PRAGMA user_version=3`)
		_, err := h26hVerify(t, dir, master)
		var ce *ChainError
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, ce.Reason, "no row_hash_upgrade entry")
	})
	t.Run("entry appended twice", func(t *testing.T) {
		dir, master := seededAs(t, true)
		s := h26hOpen(t, dir, master, false)
		require.NoError(t, s.Audit("acme", "note", map[string]any{}, "v1"))
		up := h26hKinds(t, s, rowHashUpgrade)
		require.Len(t, up, 1)
		var d map[string]any
		require.NoError(t, json.Unmarshal([]byte(up[0].Detail), &d))
		d["before"] = d["rows"]
		require.NoError(t, s.Audit("acme", rowHashUpgrade, d, ""))
		_, err := s.VerifyAudit("acme")
		var ce *ChainError
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, ce.Reason, "a second row hash upgrade")
	})
	t.Run("a second upgrade on a chain on row hash 2 from its start", func(t *testing.T) {
		dir, master := seeded(t)
		s := h26hOpen(t, dir, master, false)
		rows := map[string]RowsTally{}
		require.NoError(t, s.Audit("acme", rowHashUpgrade, map[string]any{"before": rows, "rows": rows}, ""))
		_, err := s.VerifyAudit("acme")
		var ce *ChainError
		require.ErrorAs(t, err, &ce)
		assert.Contains(t, ce.Reason, "a second row hash upgrade (the first is seq 0)")
	})
	for _, upgraded := range []bool{false, true} {
		name := "a Tenancy of format 2 writes to a new database"
		if upgraded {
			name = "a Tenancy of format 2 writes to an upgraded database"
		}
		t.Run(name, func(t *testing.T) {
			dir, master := seededAs(t, upgraded)
			if upgraded {
				s := h26hOpen(t, dir, master, false)
				require.NoError(t, s.Audit("acme", "note", map[string]any{}, "v1"))
				require.NoError(t, s.Close())
			}
			old := h26hOpen(t, dir, master, true)
			require.NoError(t, old.WriteLogs("acme", logsWith("acme", time.Now(), "by the old one"), "v1"))
			assert.Equal(t, viewsVersion, h26hFormat(t, old), "it sets the format back")
			require.NoError(t, old.Close())
			_, err := h26hVerify(t, dir, master)
			var re *RowsError
			require.ErrorAs(t, err, &re, "its row hash 1 sums are not the rows' row hash 2 ones")
			assert.Equal(t, "logs", re.Table)
			// This Tenancy marks it again, with no second entry.
			s := h26hOpen(t, dir, master, false)
			require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "new"), "v1"))
			assert.Equal(t, formatVersion, h26hFormat(t, s))
			assert.Len(t, h26hKinds(t, s, rowHashUpgrade), map[bool]int{false: 0, true: 1}[upgraded])
			_, err = s.VerifyAudit("acme")
			require.ErrorAs(t, err, &re)
		})
	}
	t.Run("a newer format", func(t *testing.T) {
		dir, master := seeded(t)
		tamperDB(t, dir, master, "acme", `PRAGMA user_version=4`)
		_, err := h26hVerify(t, dir, master)
		require.ErrorContains(t, err, "newer than this Tenancy knows")
		s := h26hOpen(t, dir, master, false)
		require.ErrorContains(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "x"), "v1"), "newer than this Tenancy knows")
	})
}

// BenchmarkH26hUpgrade: the one-off upgrade of a row hash 1 database (its
// rows hashed under both row hashes, in the first write's transaction),
// 20 batches of BenchmarkWriteLogsE2E's bench-e2e-like logs (41 records
// each, 10 resources).
func BenchmarkH26hUpgrade(b *testing.B) {
	ld := e2eLikeLogs(false, 41)
	const batches = 20
	rows := 0
	for b.Loop() {
		b.StopTimer()
		s, master := openStore(b)
		s.rowHash1 = true
		for range batches {
			restamp(ld, time.Now())
			if err := s.WriteLogs("tenant-0000", ld, "v1"); err != nil {
				b.Fatal(err)
			}
		}
		rows = batches * ld.LogRecordCount()
		dir := s.Dir()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		s, err := Open(dir, master)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.tenant("tenant-0000"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Audit("tenant-0000", "note", map[string]any{}, "v1"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if res, err := s.VerifyAudit("tenant-0000"); err != nil || res.RowHash != rowHash2 {
			b.Fatal(res, err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Queries read the views and resources' JSON, the row hashes the tables
// and resources' digests: audit verify checks the views are the store's
// and resources a table, so neither can show queries rows the chain does
// not account for (under row hash 1 the hashes read the views).
func TestH26hLayoutIsChecked(t *testing.T) {
	forgedView := `DROP VIEW logs; CREATE VIEW logs AS ` + strings.Replace(hashedRows("logs", rowHash1), "r.body AS body", "'forged' AS body", 1) + `;`
	for _, tc := range []struct{ name, sql, table string }{
		{"a view redefined", forgedView, "logs"},
		{"resources replaced by a view", `CREATE TABLE res_real AS SELECT * FROM resources; DROP TABLE resources;
			CREATE VIEW resources AS SELECT id, digest, '{}' AS json, logs_until, datapoints_until, spans_until FROM res_real;`, "resources"},
	} {
		for _, old := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/row hash 1 %v", tc.name, old), func(t *testing.T) {
				dir, master := seededAs(t, old)
				tamperDB(t, dir, master, "acme", tc.sql)
				_, err := h26hVerify(t, dir, master)
				var re *RowsError
				require.ErrorAs(t, err, &re)
				assert.Equal(t, tc.table, re.Table, re.Reason)
			})
		}
	}
}

// The upgrade's row hash 1 pass reads the tables too: an edit of a row
// masked by a view redefined to show the old value is in its "before",
// which is then not what the chain accounted for.
func TestH26hUpgradeIsNotFooledByAView(t *testing.T) {
	dir, master := seededAs(t, true)
	masked := `UPDATE log_rows SET body = 'forged' WHERE id = 1; DROP VIEW logs; CREATE VIEW logs AS ` +
		strings.Replace(hashedRows("logs", rowHash1), "r.body AS body", "CASE WHEN r.id = 1 THEN 'a' ELSE r.body END AS body", 1) + `;`
	tamperDB(t, dir, master, "acme", masked)
	s := h26hOpen(t, dir, master, false)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v1"))
	require.NoError(t, s.Close())
	tamperDB(t, dir, master, "acme", `DROP VIEW logs;`+views())
	_, err := h26hVerify(t, dir, master)
	var re *RowsError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "logs", re.Table)
	assert.Contains(t, re.Reason, "before it")
}

// Audit verify beside a writing collector reads one snapshot: a commit
// between its statements is not taken for rows inserted outside the
// store.
func TestH26hVerifyReadsOneSnapshot(t *testing.T) {
	dir, master := seeded(t)
	w := h26hOpen(t, dir, master, false)
	r := h26hOpen(t, dir, master, false)
	done := make(chan error)
	go func() {
		var err error
		for j := 0; j < 40 && err == nil; j++ {
			err = w.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprint(j)), "v1")
		}
		done <- err
	}()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			_, err = r.VerifyAudit("acme")
			require.NoError(t, err)
			return
		default:
			_, err := r.VerifyAudit("acme")
			require.NoError(t, err)
		}
	}
}

// Format 0's layout (the three record tables) is taken as such only under
// a chain on row hash 1 (a chain on 2 is written only after the
// conversion), and only whole.
func TestH26hFormat0LayoutOnlyWhole(t *testing.T) {
	asTables := func(views ...string) string {
		sql := ""
		for _, v := range views {
			sql += "CREATE TABLE t_" + v + " AS " + hashedRows(v, rowHash1) + "; DROP VIEW " + v + "; ALTER TABLE t_" + v + " RENAME TO " + v + ";"
		}
		return sql
	}
	for _, tc := range []struct {
		name string
		old  bool
		sql  string
		ok   bool
	}{
		{"the three as tables, row hash 1", true, asTables("logs", "datapoints", "spans"), true},
		{"the three as tables, row hash 2", false, asTables("logs", "datapoints", "spans"), false},
		{"logs alone as a table, row hash 1", true, asTables("logs"), false},
		{"logs alone as a table, row hash 2", false, asTables("logs"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seededAs(t, tc.old)
			tamperDB(t, dir, master, "acme", tc.sql)
			_, err := h26hVerify(t, dir, master)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			var re *RowsError
			require.ErrorAs(t, err, &re)
			assert.Contains(t, re.Reason, "layout was changed")
		})
	}
}
