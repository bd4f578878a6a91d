package localstore

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Hostile review of row hash 2 (h26y): attacks that are caught, kept as
// guards. Someone with write access to a tenant's database file but not
// the master key (tamperDB runs their SQL), against audit verify.

// h26yView is the CREATE VIEW of view as views() makes it, with the
// column col's expression replaced by expr (col "" for none) and where
// (if any) added.
func h26yView(view, col, expr, where string) string {
	cols := selectColumns(view, "r", func() string { return "res.json" })
	if col != "" {
		old := "r." + col + " AS " + col
		if col == resourceColumn {
			old = "res.json AS resource"
		}
		if !strings.Contains(cols, old) {
			panic("no column " + col)
		}
		cols = strings.Replace(cols, old, expr+" AS "+col, 1)
	}
	sql := "DROP VIEW " + view + "; CREATE VIEW " + view + " AS SELECT " + cols + " FROM " + rowTables[view] +
		" AS r LEFT JOIN resources AS res ON res.id = r.resource_id"
	if where != "" {
		sql += " WHERE " + where
	}
	return sql + ";"
}

// h26yVerifyFails asserts that acme's audit verify fails with a
// *ChainError or a *RowsError.
func h26yVerifyFails(t *testing.T, dir string, master []byte) {
	t.Helper()
	_, err := h26hVerify(t, dir, master)
	var ce *ChainError
	var re *RowsError
	require.Error(t, err)
	require.True(t, errorsAs(err, &ce) || errorsAs(err, &re), "want a chain or rows error, got %v", err)
}

func errorsAs[T error](err error, target *T) bool {
	for err != nil {
		if e, ok := err.(T); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// The schema edits TestH26yRedefinedViewIsCaught and
// TestH26yResourcesReplacedByAViewIsCaught make were caught under row
// hash 1, which read the views: verified read-only (no upgrade), each
// fails. What row hash 2 no longer covers.
func TestH26yRowHash1CaughtSchemaEdits(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"a log's body forged", h26yView("logs", "body", "CASE WHEN r.id = 1 THEN 'forged' ELSE r.body END", "")},
		{"a log hidden", h26yView("logs", "", "", "r.id <> 2")},
		{"a span's resource forged", h26yView("spans", resourceColumn, `'{"tenant.id":"acme","service.name":"forged"}'`, "")},
		{"resources replaced by a view", `CREATE TABLE res_real AS SELECT * FROM resources; DROP TABLE resources;
			CREATE VIEW resources AS SELECT id, digest, CASE WHEN id = 2 THEN '{"tenant.id":"acme","service.name":"forged"}' ELSE json END AS json,
			logs_until, datapoints_until, spans_until FROM res_real;`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seededAs(t, true)
			tamperDB(t, dir, master, "acme", tc.sql)
			_, err := h26hVerify(t, dir, master)
			var re *RowsError
			require.ErrorAs(t, err, &re)
		})
	}
}

// The genesis marker is covered by the first entry's keyed hash: a chain
// of row hash 1 relabelled as 2 (its rows' sums would then be read as row
// hash 2 ones), or one of 2 relabelled as 1, breaks at seq 1.
func TestH26yGenesisCannotBeRelabelled(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  bool
		to   string
	}{
		{"row hash 1 as 2", true, genesisRowHash2},
		{"row hash 2 as 1", false, GenesisHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seededAs(t, tc.old)
			tamperDB(t, dir, master, "acme", `UPDATE audit SET prev_hash = '`+tc.to+`' WHERE seq = 1`)
			_, err := h26hVerify(t, dir, master)
			var ce *ChainError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, int64(1), ce.Seq)
		})
	}
}

// A forged row_hash_upgrade entry (hasRowHashUpgrade looks at the kind
// and the "k1:" prefix, not the HMAC) makes this Tenancy skip the upgrade
// and write row hash 2 sums on a chain of row hash 1: audit verify fails,
// at the forged entry or, once the attacker removes it, on the rows. A
// user_version of 3 set on a database of row hash 1 (the upgrade skipped)
// after an edit is reported too. The attacker can break a chain; these
// only check that no such hint gets an edit through.
func TestH26yForgedUpgradeHintsAreReported(t *testing.T) {
	for _, tc := range []struct{ name, sql, after string }{
		{"forged entry at the head", `INSERT INTO audit SELECT seq + 1, time, 'row_hash_upgrade', '{}', '', hash, 'k1:' || hex(randomblob(32)) FROM audit ORDER BY seq DESC LIMIT 1;`, ""},
		{"forged entry at seq -1", `INSERT INTO audit VALUES (-1, '', 'row_hash_upgrade', '{}', '', '', 'k1:00');`, ""},
		{"forged entry removed after the write", `INSERT INTO audit VALUES (-1, '', 'row_hash_upgrade', '{}', '', '', 'k1:00');`, `DELETE FROM audit WHERE seq = -1`},
		{"marked 3 after an edit", `UPDATE log_rows SET body = 'forged' WHERE id = 1; PRAGMA user_version=3;`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seededAs(t, true)
			tamperDB(t, dir, master, "acme", tc.sql)
			s := h26hOpen(t, dir, master, false)
			require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v1"))
			require.NoError(t, s.Close())
			if tc.after != "" {
				tamperDB(t, dir, master, "acme", tc.after)
			}
			h26yVerifyFails(t, dir, master)
		})
	}
}

// resources.digest is UNIQUE; an attacker can rebuild the table without
// it. A second resource of the same digest with another JSON, a row
// pointed at it, is caught (its digest is not its JSON's); with the same
// JSON it is harmless (queries read the same).
func TestH26yDuplicateDigests(t *testing.T) {
	rebuild := `DROP VIEW logs; DROP VIEW datapoints; DROP VIEW spans;
		CREATE TABLE r2 (id INTEGER PRIMARY KEY, digest BLOB NOT NULL, json TEXT NOT NULL, logs_until INTEGER, datapoints_until INTEGER, spans_until INTEGER);
		INSERT INTO r2 SELECT * FROM resources; DROP TABLE resources; ALTER TABLE r2 RENAME TO resources;` + views()
	for _, tc := range []struct {
		name, json string
		caught     bool
	}{
		{"another JSON", `'{"tenant.id":"acme","service.name":"forged"}'`, true},
		{"the same JSON", `json`, false},
	} {
		for _, old := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/row hash 1 %v", tc.name, old), func(t *testing.T) {
				dir, master := seededAs(t, old)
				const q = `SELECT id, resource FROM spans ORDER BY id`
				var want [][]any
				if !old {
					want = query(t, h26hOpen(t, dir, master, false), "acme", q)
				}
				tamperDB(t, dir, master, "acme", rebuild+`INSERT INTO resources(id, digest, json) SELECT 10, digest, `+tc.json+` FROM resources WHERE id = 2;
					UPDATE span_rows SET resource_id = 10 WHERE id = 2;`)
				if tc.caught {
					h26yVerifyFails(t, dir, master)
					return
				}
				_, err := h26hVerify(t, dir, master)
				require.NoError(t, err)
				if !old {
					assert.Equal(t, want, query(t, h26hOpen(t, dir, master, false), "acme", q))
				}
			})
		}
	}
}

// Rows renumbered, swapped, or a non-resource column edited, after the
// upgrade and on a chain of row hash 2 from its start.
func TestH26yRowEditsAfterTheUpgrade(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"renumbered", `UPDATE log_rows SET id = 100 WHERE id = 1`},
		{"two swapped", `UPDATE log_rows SET id = -1 WHERE id = 1; UPDATE log_rows SET id = 1 WHERE id = 2; UPDATE log_rows SET id = 2 WHERE id = -1`},
		{"attrs edited", `UPDATE span_rows SET attrs = '{"x":1}' WHERE id = 1`},
		{"lineage set", `UPDATE datapoint_rows SET lineage = 1 WHERE id = 1`},
		{"a row deleted and its resource with it", `DELETE FROM log_rows; DELETE FROM resources WHERE id = 1`},
	} {
		for _, upgraded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/upgraded %v", tc.name, upgraded), func(t *testing.T) {
				dir, master := seededAs(t, upgraded)
				if upgraded {
					s := h26hOpen(t, dir, master, false)
					require.NoError(t, s.Audit("acme", "note", map[string]any{}, "v1"))
					require.Len(t, h26hKinds(t, s, rowHashUpgrade), 1)
					require.NoError(t, s.Close())
				}
				tamperDB(t, dir, master, "acme", tc.sql)
				h26yVerifyFails(t, dir, master)
			})
		}
	}
}

// The upgrade and retention in one transaction: a database of row hash 1
// whose first write by this Tenancy is a retention run (tenancyctl
// retention) is upgraded first, then expires under row hash 2.
func TestH26yRetentionIsTheFirstWrite(t *testing.T) {
	dir, master := seededAs(t, true)
	old := h26hOpen(t, dir, master, true)
	now := time.Now()
	require.NoError(t, old.WriteLogs("acme", logsWith("acme", now.Add(-48*time.Hour), "aged1", "aged2"), "v1"))
	require.NoError(t, old.Close())

	s := h26hOpen(t, dir, master, false)
	d, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), d[policy.SignalLogs])
	log, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(log), 2)
	assert.Equal(t, []string{rowHashUpgrade, "retention"}, []string{log[len(log)-2].Kind, log[len(log)-1].Kind})
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, rowHash2, res.RowHash)
	assert.Equal(t, int64(15), res.Rows)
}

// Two collectors (two Stores on one directory, as two processes) take a
// database of row hash 1 at once, writing and expiring: one upgrade
// entry (each reads user_version in its BEGIN IMMEDIATE transaction),
// and the chain verifies after.
func TestH26yConcurrentUpgrade(t *testing.T) {
	dir, master := seededAs(t, true)
	a := h26hOpen(t, dir, master, false)
	b := h26hOpen(t, dir, master, false)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i, s := range []*Store{a, b} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 5 {
				if err := s.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprintf("s%d-%d", i, j)), "v1"); err != nil {
					errs <- err
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: time.Hour}, time.Now(), "v1"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, h26hKinds(t, a, rowHashUpgrade), 1)
	res, err := a.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, rowHash2, res.RowHash)
	assert.Equal(t, int64(15+10), res.Rows)
}
