package localstore

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// tamperDB runs sql on the tenant's database as someone holding the master
// key would, the append-only triggers dropped first.
func tamperDB(t *testing.T, dir string, master []byte, tenant, sql string) {
	t.Helper()
	kf, err := readKeyFile(filepath.Join(dir, tenant), tenant)
	require.NoError(t, err)
	key, err := unwrapKey(master, kf)
	require.NoError(t, err)
	conn, err := openConn(filepath.Join(dir, tenant, dbFileName), key, false)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Exec(`DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;`+sql))
}

// seeded is a store with acme's logs, metrics (NaN and integral floats
// included) and spans, closed; it returns the directory and master key.
func seeded(t *testing.T) (string, []byte) {
	t.Helper()
	return seededAs(t, false)
}

// seededAs is seeded, written as a Tenancy of format 2 did (row hash 1,
// Store.rowHash1) when old is set.
func seededAs(t *testing.T, old bool) (string, []byte) {
	t.Helper()
	s, master := openStore(t)
	s.rowHash1 = old
	now := time.Now()
	for i := range 3 {
		require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "a", "b"), "v1"))
		md := metricsWith("acme", now, "m")
		g := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
		g.At(0).SetDoubleValue([]float64{math.NaN(), 3.0, math.Inf(-1)}[i])
		require.NoError(t, s.WriteMetrics("acme", md, "v1"))
		require.NoError(t, s.WriteTraces("acme", tracesWith("acme", now, "t"), "v1"))
	}
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(6+6+3), res.Rows)
	require.NoError(t, s.Close())
	return s.Dir(), master
}

func verifyErr(t *testing.T, dir string, master []byte) error {
	t.Helper()
	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.VerifyAudit("acme")
	return err
}

func TestAuditChainCoversDataRows(t *testing.T) {
	for _, tc := range []struct {
		name, sql, table, reason string
	}{
		{"edited log", `UPDATE log_rows SET body = 'forged' WHERE id = 2`, "logs", "edited"},
		{"edited data point", `UPDATE datapoint_rows SET value = 1e9 WHERE id = 1`, "datapoints", "edited"},
		{"edited span attribute", `UPDATE span_rows SET attrs = '{"x":1}' WHERE id = 3`, "spans", "edited"},
		{"inserted log", `INSERT INTO log_rows SELECT NULL, time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, 'planted', trace_id, span_id, service_name, scope_name, resource_id, attrs, lineage FROM log_rows WHERE id = 1`, "logs", "inserted"},
		{"deleted span", `DELETE FROM span_rows WHERE id = 2`, "spans", "deleted"},
		{"replaced log", `DELETE FROM log_rows WHERE id = 6; INSERT INTO log_rows SELECT NULL, time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, 'other', trace_id, span_id, service_name, scope_name, resource_id, attrs, lineage FROM log_rows WHERE id = 1`, "logs", "edited"},
		// A resource is held once for every row that names it: deleted,
		// every such row's hash differs (its digest NULL); its JSON
		// edited, its digest is not the JSON's (checkResources).
		{"edited resource", `UPDATE resources SET json = '{"service.name":"forged"}'`, "resources", "edited"},
		{"deleted resource", `DELETE FROM resources`, "datapoints", "edited"},
		{"a span moved to another resource", `INSERT INTO resources(digest, json) VALUES (x'00', '{}'); UPDATE span_rows SET resource_id = (SELECT max(id) FROM resources) WHERE id = 1`, "spans", "edited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, master := seeded(t)
			tamperDB(t, dir, master, "acme", tc.sql)
			var re *RowsError
			err := verifyErr(t, dir, master)
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.table, re.Table)
			assert.Contains(t, re.Reason, tc.reason)
		})
	}
}

func TestEmptiedChainFails(t *testing.T) {
	dir, master := seeded(t)
	tamperDB(t, dir, master, "acme", `DELETE FROM audit`)
	var re *RowsError
	require.ErrorAs(t, verifyErr(t, dir, master), &re)
	assert.Contains(t, re.Reason, "the audit chain is empty")

	// An empty chain on an empty database is fine.
	s, _ := openStore(t)
	require.NoError(t, s.Audit("globex", "note", map[string]any{}, "v1"))
	res, err := s.VerifyAudit("globex")
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Entries)
}

func TestRetentionKeepsTheRowsAccountedFor(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now.Add(-48*time.Hour), "old1", "old2"), "v1"))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "new"), "v1"))
	deleted, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, int64(2), deleted[policy.SignalLogs])
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Rows)
}

// A chain an older Tenancy wrote (unkeyed, no row digests) does not
// verify its rows, and says so; the next write keys it and accounts for
// every row then present, after which an edit is caught.
func TestUnkeyedChainIsUpgraded(t *testing.T) {
	dir, master := seededAs(t, true)
	// Rewrite the chain as the previous version wrote it.
	s, err := Open(dir, master)
	require.NoError(t, err)
	entries, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	tamperDB(t, dir, master, "acme", `DELETE FROM audit;`+rechain(entries, GenesisHash, nil, AuditEntry.ComputeHash))
	var re *RowsError
	require.ErrorAs(t, verifyErr(t, dir, master), &re)
	assert.Contains(t, re.Reason, "before keyed chains")

	s, err = Open(dir, master)
	require.NoError(t, err)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v2"))
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(len(entries)), res.Unkeyed)
	assert.Equal(t, int64(len(entries)+3), res.Entries, "the upgrade entries (chain, row hash) and the ingest")
	require.NoError(t, s.Close())

	tamperDB(t, dir, master, "acme", `UPDATE log_rows SET body = 'forged' WHERE id = 1`)
	require.ErrorAs(t, verifyErr(t, dir, master), &re)
	assert.Contains(t, re.Reason, "edited")
}

// rechain is the SQL that inserts entries again as a chain after prev,
// edited by edit (when not nil) and hashed by hash.
func rechain(entries []AuditEntry, prev string, edit func(*AuditEntry), hash func(AuditEntry) string) string {
	sql := ""
	for _, e := range entries {
		if edit != nil {
			edit(&e)
		}
		e.PrevHash = prev
		e.Hash = hash(e)
		prev = e.Hash
		sql += `INSERT INTO audit VALUES (` + sqlQuote(e.Seq) + `,` + sqlQuote(e.Time) + `,` + sqlQuote(e.Kind) + `,` + sqlQuote(e.Detail) + `,` + sqlQuote(e.PolicyVersion) + `,` + sqlQuote(e.PrevHash) + `,` + sqlQuote(e.Hash) + `);`
	}
	return sql
}

func sqlQuote(v any) string {
	switch x := v.(type) {
	case int64:
		return pcommon.NewValueInt(x).AsString()
	case string:
		b := []byte{'\''}
		for _, c := range []byte(x) {
			if c == '\'' {
				b = append(b, '\'')
			}
			b = append(b, c)
		}
		return string(append(b, '\''))
	}
	panic(errors.New("sqlQuote"))
}
