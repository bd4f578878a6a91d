package localstore

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/policy"
)

func newKey(t testing.TB) []byte {
	k := make([]byte, KeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

func openStore(t testing.TB) (*Store, []byte) {
	t.Helper()
	k := newKey(t)
	s, err := Open(t.TempDir(), k)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, k
}

func logsWith(tenant string, ts time.Time, markers ...string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", tenant)
	rl.Resource().Attributes().PutStr("service.name", "shop")
	sl := rl.ScopeLogs().AppendEmpty()
	for _, m := range markers {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.Body().SetStr(m)
		lr.Attributes().PutStr("order.id", m+"-order")
	}
	return ld
}

func metricsWith(tenant string, ts time.Time, marker string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("tenant.id", tenant)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	g := ms.AppendEmpty()
	g.SetName("orders")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetIntValue(7)
	dp.Attributes().PutStr("marker", marker)
	h := ms.AppendEmpty()
	h.SetName("latency")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	hp.SetCount(3)
	hp.SetSum(1.5)
	hp.ExplicitBounds().FromRaw([]float64{0.1, 1})
	hp.BucketCounts().FromRaw([]uint64{1, 1, 1})
	return md
}

func tracesWith(tenant string, ts time.Time, marker string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("tenant.id", tenant)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName(marker)
	sp.SetTraceID([16]byte{1, 2})
	sp.SetSpanID([8]byte{3})
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(ts))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Millisecond)))
	sp.Events().AppendEmpty().SetName("retry")
	return td
}

func query(t *testing.T, s *Store, tenant, sql string) [][]any {
	t.Helper()
	res, err := s.Query(t.Context(), tenant, sql, QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	return res.Rows
}

// fileBytes is every byte the tenant's folder holds: database, WAL, key.
func fileBytes(t *testing.T, dir string) []byte {
	var all []byte
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		all = append(all, b...)
	}
	return all
}

func TestWriteAndQueryEverySignal(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "hello", "world"), "v1"))
	require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", now, "m1"), "v1"))
	require.NoError(t, s.WriteTraces("acme", tracesWith("acme", now, "checkout"), "v1"))

	rows := query(t, s, "acme", `SELECT body, json_extract(attrs, '$."order.id"'), service_name, json_extract(resource, '$."tenant.id"') FROM logs ORDER BY id`)
	assert.Equal(t, [][]any{{"hello", "hello-order", "shop", "acme"}, {"world", "world-order", "shop", "acme"}}, rows)
	rows = query(t, s, "acme", `SELECT metric_name, metric_type, value, count, sum, json_extract(detail, '$.counts[2]') FROM datapoints ORDER BY id`)
	assert.Equal(t, [][]any{{"orders", "Gauge", 7.0, nil, nil, nil}, {"latency", "Histogram", nil, int64(3), 1.5, int64(1)}}, rows)
	rows = query(t, s, "acme", `SELECT name, trace_id, end_unix_nano - time_unix_nano, json_extract(events, '$[0].name') FROM spans`)
	assert.Equal(t, [][]any{{"checkout", "01020000000000000000000000000000", int64(time.Millisecond), "retry"}}, rows)

	rows = query(t, s, "acme", `SELECT kind, json_extract(detail, '$.signal'), json_extract(detail, '$.records'), policy_version FROM audit WHERE kind = 'ingest' ORDER BY seq`)
	assert.Equal(t, [][]any{{"ingest", "logs", int64(2), "v1"}, {"ingest", "metrics", int64(2), "v1"}, {"ingest", "traces", int64(1), "v1"}}, rows)
}

func TestTenantsAreSeparateFiles(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "ACME-MARKER-1"), "v1"))
	require.NoError(t, s.WriteLogs("globex", logsWith("globex", now, "GLOBEX-MARKER-1"), "v1"))
	require.NoError(t, s.Close())

	s2, err := Open(s.Dir(), s.master)
	require.NoError(t, err)
	defer s2.Close()
	a := query(t, s2, "acme", `SELECT body FROM logs`)
	g := query(t, s2, "globex", `SELECT body FROM logs`)
	assert.Equal(t, [][]any{{"ACME-MARKER-1"}}, a)
	assert.Equal(t, [][]any{{"GLOBEX-MARKER-1"}}, g)
	names, err := s2.Tenants()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "globex"}, names)
	// Each tenant has its own data key.
	ka, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
	require.NoError(t, err)
	kg, err := readKeyFile(filepath.Join(s.Dir(), "globex"), "globex")
	require.NoError(t, err)
	assert.NotEqual(t, ka.WrappedKey, kg.WrappedKey)
}

func TestNoPlaintextOnDisk(t *testing.T) {
	s, _ := openStore(t)
	marker := "PLAINTEXT-CANARY-7f3a9c"
	for range 20 {
		require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), marker), "v1"))
	}
	// Before closing: the WAL holds the rows; after: the checkpointed database.
	dir := filepath.Join(s.Dir(), "acme")
	for _, phase := range []string{"open", "closed"} {
		b := fileBytes(t, dir)
		assert.NotEmpty(t, b)
		for _, needle := range []string{marker, "order.id", "SQLite format 3", "CREATE TABLE", "acme-order"} {
			assert.False(t, bytes.Contains(b, []byte(needle)), "%s: %q in the files", phase, needle)
		}
		require.NoError(t, s.Close())
	}
}

func TestWrongKeyFails(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "x"), "v1"))
	require.NoError(t, s.Close())

	// Another master key cannot unwrap the data key.
	other, err := Open(s.Dir(), newKey(t))
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v1")
	assert.ErrorContains(t, err, "wrapped by master key")
	assert.Error(t, other.WriteLogs("acme", logsWith("acme", time.Now(), "y"), "v1"))

	// The right file with another data key is not a database.
	_, err = openConn(filepath.Join(s.Dir(), "acme", dbFileName), newKey(t), true)
	assert.ErrorContains(t, err, "file is not a database")

	// A key file moved to another tenant's folder does not unwrap there.
	kf, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
	require.NoError(t, err)
	kf.Tenant = "globex"
	_, err = unwrapKey(s.master, kf)
	assert.ErrorContains(t, err, "unwrap data key")
}

func TestShreddingMakesDataUnreadable(t *testing.T) {
	s, master := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "secret"), "v1"))
	require.NoError(t, s.WriteLogs("globex", logsWith("globex", time.Now(), "kept"), "v1"))
	dbPath := filepath.Join(s.Dir(), "acme", dbFileName)
	kf, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
	require.NoError(t, err)
	dataKey, err := unwrapKey(master, kf)
	require.NoError(t, err)

	ts, err := s.Shred("acme", "customer offboarding", "v2")
	require.NoError(t, err)
	assert.Equal(t, "customer offboarding", ts.Reason)
	assert.Positive(t, ts.AuditHeadSeq)
	assert.Regexp(t, `^k1:[0-9a-f]{64}$`, ts.AuditHeadHash)

	_, err = os.Stat(filepath.Join(s.Dir(), "acme", keyFileName))
	assert.ErrorIs(t, err, os.ErrNotExist, "the wrapped data key is gone")
	got, ok, err := s.ReadTombstone("acme")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ts.AuditHeadHash, got.AuditHeadHash)

	// Writes and queries refuse; the database file is still there but the
	// only key that opened it is destroyed.
	assert.ErrorIs(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "more"), "v2"), ErrShredded)
	_, err = s.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v2")
	assert.ErrorIs(t, err, ErrShredded)
	_, err = os.Stat(dbPath)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s2, err := Open(s.Dir(), master)
	require.NoError(t, err)
	defer s2.Close()
	assert.ErrorIs(t, s2.WriteLogs("acme", logsWith("acme", time.Now(), "more"), "v2"), ErrShredded)
	// Without the key file, nothing the store has reads it: only the data
	// key (which this test kept aside before shredding) still would.
	os.Remove(filepath.Join(s.Dir(), "acme", tombstoneName))
	assert.Error(t, s2.WriteLogs("acme", logsWith("acme", time.Now(), "more"), "v2"), "no key file: the store refuses to start over on a shredded database")
	conn, err := openConn(dbPath, dataKey, true)
	require.NoError(t, err, "sanity: the database itself was not destroyed")
	conn.Close()

	// Other tenants are untouched.
	assert.Equal(t, [][]any{{"kept"}}, query(t, s2, "globex", "SELECT body FROM logs"))
}

func TestMasterKeyRotation(t *testing.T) {
	s, oldKey := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	require.NoError(t, s.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1"))
	newKey := newKey(t)
	require.NoError(t, s.RotateMasterKey(newKey, "v1"))
	assert.Equal(t, KeyID(newKey), s.MasterKeyID())
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a2"), "v1"))
	require.NoError(t, s.Close())

	old, err := Open(s.Dir(), oldKey)
	require.NoError(t, err)
	defer old.Close()
	_, err = old.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v1")
	assert.ErrorContains(t, err, "wrapped by master key", "the old master key no longer unwraps")

	s2, err := Open(s.Dir(), newKey)
	require.NoError(t, err)
	defer s2.Close()
	assert.Equal(t, [][]any{{"a"}, {"a2"}}, query(t, s2, "acme", "SELECT body FROM logs ORDER BY id"))
	rows := query(t, s2, "globex", `SELECT json_extract(detail, '$.old_master_key_id'), json_extract(detail, '$.new_master_key_id') FROM audit WHERE kind = 'key_rotation'`)
	assert.Equal(t, [][]any{{KeyID(oldKey), KeyID(newKey)}}, rows)
}

func TestRetentionDeletesOnlyExpiredRows(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	old, fresh := now.Add(-48*time.Hour), now.Add(-time.Hour)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", old, "old-log"), "v1"))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", fresh, "fresh-log"), "v1"))
	require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", old, "old"), "v1"))
	require.NoError(t, s.WriteTraces("acme", tracesWith("acme", old, "old-span"), "v1"))
	require.NoError(t, s.WriteTraces("acme", tracesWith("acme", fresh, "fresh-span"), "v1"))

	deleted, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{
		policy.SignalLogs: 24 * time.Hour, policy.SignalTraces: 72 * time.Hour, // metrics: none configured, kept
	}, now, "v7")
	require.NoError(t, err)
	assert.Equal(t, map[policy.Signal]int64{policy.SignalLogs: 1, policy.SignalTraces: 0}, deleted)
	assert.Equal(t, [][]any{{"fresh-log"}}, query(t, s, "acme", "SELECT body FROM logs"))
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", "SELECT count(*) FROM datapoints"))
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", "SELECT count(*) FROM spans"))
	rows := query(t, s, "acme", `SELECT json_extract(detail, '$.deleted.logs'), policy_version FROM audit WHERE kind = 'retention'`)
	assert.Equal(t, [][]any{{int64(1), "v7"}}, rows)
}

func TestAuditChainDetectsTampering(t *testing.T) {
	s, master := openStore(t)
	for i := range 5 {
		require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprint(i)), "v1"))
	}
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(5), res.Entries)
	assert.Equal(t, int64(5), res.HeadSeq)

	// The store's own connection refuses to rewrite history.
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	err = tdb.inTx(func() error { return tdb.conn.Exec(`UPDATE audit SET detail = '{}' WHERE seq = 3`) })
	assert.ErrorContains(t, err, "append-only")
	require.NoError(t, s.Close())

	// Someone with the key drops the guard and edits entry 3.
	tamper := func(sql string) {
		kf, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
		require.NoError(t, err)
		key, err := unwrapKey(master, kf)
		require.NoError(t, err)
		conn, err := openConn(filepath.Join(s.Dir(), "acme", dbFileName), key, false)
		require.NoError(t, err)
		defer conn.Close()
		require.NoError(t, conn.Exec(`DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;`+sql))
	}
	tamper(`UPDATE audit SET detail = json_set(detail, '$.records', 99) WHERE seq = 3`)
	s2, err := Open(s.Dir(), master)
	require.NoError(t, err)
	defer s2.Close()
	_, err = s2.VerifyAudit("acme")
	var ce *ChainError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, int64(3), ce.Seq)
	assert.Contains(t, ce.Reason, "content")

	// An unkeyed hash (what anyone can compute) is refused in a keyed
	// chain.
	rows, err := s2.AuditLog("acme", 2)
	require.NoError(t, err)
	e := rows[0]
	tamper(fmt.Sprintf(`UPDATE audit SET hash = '%s' WHERE seq = 3`, e.ComputeHash()))
	_, err = s2.VerifyAudit("acme")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, int64(3), ce.Seq)
	assert.Contains(t, ce.Reason, "unkeyed")

	// Recomputing entry 3's keyed hash (this one holds the key) breaks the
	// link to entry 4.
	kf, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
	require.NoError(t, err)
	dataKey, err := unwrapKey(master, kf)
	require.NoError(t, err)
	tamper(fmt.Sprintf(`UPDATE audit SET hash = '%s' WHERE seq = 3`, e.ComputeKeyedHash(chainKey(dataKey))))
	_, err = s2.VerifyAudit("acme")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, int64(4), ce.Seq)
	assert.Contains(t, ce.Reason, "prev_hash")

	// A deleted entry is named too.
	tamper(`DELETE FROM audit WHERE seq = 2`)
	_, err = s2.VerifyAudit("acme")
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, int64(2), ce.Seq)
}

func TestQueryIsReadOnlyAndAudited(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now.Add(-2*time.Hour), "early"), "v1"))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "late"), "v1"))
	for _, bad := range []string{
		"DELETE FROM logs",
		"UPDATE logs SET body = 'x'",
		"INSERT INTO audit(seq) VALUES (100)",
		"DROP TABLE logs",
		"SELECT 1; DELETE FROM logs",
		"ATTACH DATABASE '/tmp/x.db' AS x",
		"PRAGMA journal_mode=delete",
		"CREATE TABLE t(x)",
	} {
		_, err := s.Query(t.Context(), "acme", bad, QueryOptions{}, "v1")
		assert.Error(t, err, bad)
	}
	assert.Equal(t, [][]any{{int64(2)}}, query(t, s, "acme", "SELECT count(*) FROM logs"))

	res, err := s.Query(t.Context(), "acme", "SELECT body FROM logs", QueryOptions{Since: now.Add(-time.Hour)}, "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"late"}}, res.Rows)
	res, err = s.Query(t.Context(), "acme", "SELECT body FROM logs", QueryOptions{Until: now.Add(-time.Hour)}, "v1")
	require.NoError(t, err)
	assert.Equal(t, [][]any{{"early"}}, res.Rows)

	rows := query(t, s, "acme", `SELECT json_extract(detail, '$.sql'), json_extract(detail, '$.error') IS NOT NULL FROM audit WHERE kind = 'query' ORDER BY seq`)
	assert.Len(t, rows, 11) // this query is audited after it ran
	assert.Equal(t, []any{"DELETE FROM logs", int64(1)}, rows[0])
	assert.Equal(t, []any{"SELECT count(*) FROM logs", int64(0)}, rows[8])
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)

	_, err = s.Query(t.Context(), "nobody", "SELECT 1", QueryOptions{}, "v1")
	assert.ErrorIs(t, err, ErrNoTenant)
	_, err = s.Query(t.Context(), "../acme", "SELECT 1", QueryOptions{}, "v1")
	assert.Error(t, err)
}

func TestInvalidTenantIDsAreRefused(t *testing.T) {
	s, _ := openStore(t)
	for _, id := range []string{"", "..", ".", "a/b", "a b", "../../etc"} {
		assert.Error(t, s.WriteLogs(id, plog.NewLogs(), "v1"), id)
	}
	entries, err := os.ReadDir(s.Dir())
	require.NoError(t, err)
	assert.Empty(t, entries)
}

func TestConcurrentWrites(t *testing.T) {
	s, _ := openStore(t)
	tenants := []string{"acme", "globex", "initech", policy.Quarantine}
	const writers, batches = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				tn := tenants[(w+b)%len(tenants)]
				assert.NoError(t, s.WriteLogs(tn, logsWith(tn, time.Now(), fmt.Sprintf("%s-%d-%d", tn, w, b)), "v1"))
			}
		}()
	}
	wg.Wait()
	total := int64(0)
	for _, tn := range tenants {
		rows := query(t, s, tn, `SELECT count(*), count(*) FILTER (WHERE body NOT LIKE '`+tn+`-%') FROM logs`)
		assert.Zero(t, rows[0][1], "another tenant's rows in %s", tn)
		total += rows[0][0].(int64)
		_, err := s.VerifyAudit(tn)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(writers*batches), total)
}

func TestLoadMasterKey(t *testing.T) {
	k := newKey(t)
	dir := t.TempDir()
	hexFile := filepath.Join(dir, "hex")
	require.NoError(t, os.WriteFile(hexFile, fmt.Appendf(nil, "%x\n", k), 0o600))
	rawFile := filepath.Join(dir, "raw")
	require.NoError(t, os.WriteFile(rawFile, k, 0o600))
	for _, f := range []string{hexFile, rawFile} {
		got, err := LoadMasterKey(f, "")
		require.NoError(t, err)
		assert.Equal(t, k, got)
	}
	t.Setenv("TEST_TENANCY_KEY", fmt.Sprintf("%x", k))
	got, err := LoadMasterKey("", "TEST_TENANCY_KEY")
	require.NoError(t, err)
	assert.Equal(t, k, got)
	t.Setenv(MasterKeyEnv, "")
	_, err = LoadMasterKey("", "")
	assert.ErrorIs(t, err, ErrNoMasterKey)
	t.Setenv("TEST_TENANCY_KEY", "short")
	_, err = LoadMasterKey("", "TEST_TENANCY_KEY")
	assert.ErrorContains(t, err, "openssl rand -hex 32")
	_, err = Open(t.TempDir(), k[:16])
	assert.Error(t, err)
}

// TestTwoStoresOnOneDirectory plays the collector and tenancyctl at once:
// one store ingests while another queries (appending audit entries) the
// same tenant's database; the WAL lets them share it and the chain stays
// whole.
func TestTwoStoresOnOneDirectory(t *testing.T) {
	writer, master := openStore(t)
	require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "first"), "v1"))
	reader, err := Open(writer.Dir(), master)
	require.NoError(t, err)
	defer reader.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 30 {
			assert.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprint(i)), "v1"))
		}
	}()
	go func() {
		defer wg.Done()
		for range 30 {
			_, err := reader.Query(t.Context(), "acme", "SELECT count(*) FROM logs", QueryOptions{Actor: "ctl"}, "v1")
			assert.NoError(t, err)
		}
	}()
	wg.Wait()
	res, err := reader.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1+30+30), res.Entries)
}

func TestIdleTenantsAreClosed(t *testing.T) {
	s, _ := openStore(t)
	s.SetMaxOpenTenants(3)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				tn := fmt.Sprintf("t%d", (i+w)%10)
				assert.NoError(t, s.WriteLogs(tn, logsWith(tn, time.Now(), tn), "v1"))
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, s.OpenTenants(), 3+4, "at most the limit plus the tenants in use at once")
	for i := range 10 {
		tn := fmt.Sprintf("t%d", i)
		assert.Equal(t, [][]any{{int64(4)}}, query(t, s, tn, "SELECT count(*) FROM logs"), tn)
		_, err := s.VerifyAudit(tn)
		assert.NoError(t, err)
	}
	require.NoError(t, s.Close())
	assert.Zero(t, s.OpenTenants())
	assert.Error(t, s.WriteLogs("t1", logsWith("t1", time.Now(), "late"), "v1"), "closed store")
}

// Physical isolation holds under a key mix-up: globex's own data key does
// not open acme's database.
func TestAnotherTenantsKeyCannotOpen(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "acme-secret"), "v1"))
	require.NoError(t, s.WriteLogs("globex", logsWith("globex", time.Now(), "globex-row"), "v1"))
	require.NoError(t, s.Close())

	kf, err := readKeyFile(filepath.Join(s.Dir(), "globex"), "globex")
	require.NoError(t, err)
	globexKey, err := unwrapKey(s.master, kf)
	require.NoError(t, err)
	_, err = openConn(filepath.Join(s.Dir(), "acme", dbFileName), globexKey, true)
	assert.ErrorContains(t, err, "file is not a database")
}
