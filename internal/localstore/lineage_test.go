package localstore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// withLineage stamps every resource of ld with a request's lineage, as
// the tenant processor does.
func withLineage(ld plog.Logs, id string) plog.Logs {
	return withLineageOf(ld, identity.Lineage{ID: id, Accepted: 1_700_000_000_000_000_000, Tenant: "acme", Auth: "api_key",
		Credential: "key:0123456789ab", Client: "192.0.2.7:5555", Collector: "collector-7", PolicyVersion: "pv1"})
}

func withLineageOf(ld plog.Logs, l identity.Lineage) plog.Logs {
	for _, rl := range ld.ResourceLogs().All() {
		rl.Resource().Attributes().PutStr(identity.AttrLineage, l.Encode())
		rl.Resource().Attributes().PutStr(identity.AttrRetention, "30d")
	}
	return ld
}

// redacted marks a record as the redactor does: the classes removed from
// it.
func redacted(lr plog.LogRecord, classes ...string) {
	putClasses(lr.Attributes(), classes)
}

// redactedResource stamps a resource as the redactor does when anything
// in it changed: the values changed in it and its records, the records
// changed, all their classes and the policy version.
func redactedResource(rl plog.ResourceLogs, values, records int64, classes ...string) {
	a := rl.Resource().Attributes()
	a.PutInt(identity.AttrRedactionCount, values)
	a.PutInt(identity.AttrRedactionRecords, records)
	putClasses(a, classes)
	a.PutStr(identity.AttrRedactionPolicyVersion, "pv1")
}

func putClasses(a pcommon.Map, classes []string) {
	s := a.PutEmptySlice(identity.AttrRedactionClasses)
	for _, c := range classes {
		s.AppendEmpty().SetStr(c)
	}
}

func TestLineageRowsAndColumn(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	ld := withLineage(logsWith("acme", now, "a", "b", "c"), "req-1")
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	redacted(lrs.At(0), "email")
	redacted(lrs.At(2), "email", "phone")
	redactedResource(ld.ResourceLogs().At(0), 5, 2, "email", "phone")
	// A second request's resource in the same batch (the batch processor
	// merges requests), and a resource without lineage.
	withLineage(logsWith("acme", now, "d"), "req-2").ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	logsWith("acme", now, "e").ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))

	rows := query(t, s, "acme", `SELECT l.body, (SELECT lineage_id FROM lineage WHERE id = l.lineage), l.resource FROM logs l ORDER BY l.id`)
	require.Len(t, rows, 5)
	for i, want := range []any{"req-1", "req-1", "req-1", "req-2", nil} {
		assert.Equal(t, want, rows[i][1], "row %d", i)
		assert.NotContains(t, rows[i][2], identity.AttrLineage, "the lineage moved off the resource")
	}
	lin := query(t, s, "acme", `SELECT lineage_id, signal, backend, records, first_id, last_id, tenant, credential, client, collector, policy_version, decision, redactions, retention, accepted_unix_nano FROM lineage ORDER BY id`)
	require.Len(t, lin, 2, "one row per request, none for a resource without lineage")
	assert.Equal(t, []any{"req-1", "logs", "", int64(3), int64(1), int64(3), "acme", "key:0123456789ab", "192.0.2.7:5555", "collector-7", "pv1", "accepted"}, lin[0][:12])
	assert.JSONEq(t, `{"values":5,"records":2,"classes":{"email":2,"phone":1}}`, lin[0][12].(string))
	assert.JSONEq(t, `{"retention":"30d","expired_flagged":0,"future_skew":0}`, lin[0][13].(string))
	assert.Equal(t, int64(1_700_000_000_000_000_000), lin[0][14])
	assert.Equal(t, []any{"req-2", int64(1), int64(4), int64(4)}, []any{lin[1][0], lin[1][3], lin[1][4], lin[1][5]})

	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(5+2), res.Rows, "the chain accounts for the lineage rows too")
	var entry struct {
		Lineage RowsTally `json:"lineage"`
	}
	ingest := lastEntry(t, s, "ingest")
	require.NoError(t, json.Unmarshal([]byte(ingest.Detail), &entry))
	assert.Equal(t, int64(2), entry.Lineage.Rows)
	assert.Equal(t, [][]any{{ingest.Seq}}, query(t, s, "acme", `SELECT DISTINCT audit_seq FROM lineage`), "each row names the entry that accounts for it")
}

// A client's request with many resources and records adds one lineage
// row, and a resource without records none: the table grows no faster
// than the records.
func TestLineageRowsBoundedByRecords(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	ld := plog.NewLogs()
	for range 100 {
		withLineage(logsWith("acme", now, "x"), "req-1").ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	}
	empty := withLineage(logsWith("acme", now), "req-empty")
	empty.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	require.NoError(t, s.WriteLogs("acme", empty, "v1"))
	assert.Equal(t, [][]any{{int64(1), int64(100)}}, query(t, s, "acme", `SELECT count(*), sum(records) FROM lineage`))

	// Oversized facts are cut; a lineage that is not the processor's is
	// none.
	big := withLineageOf(logsWith("acme", now, "y"), identity.Lineage{ID: "req-big", Client: strings.Repeat("z", 10_000)})
	require.NoError(t, s.WriteLogs("acme", big, "v1"))
	bad := logsWith("acme", now, "z")
	bad.ResourceLogs().At(0).Resource().Attributes().PutStr(identity.AttrLineage, "not json")
	require.NoError(t, s.WriteLogs("acme", bad, "v1"))
	assert.Equal(t, [][]any{{nil}}, query(t, s, "acme", `SELECT lineage FROM logs WHERE body = 'z'`))
	assert.Equal(t, [][]any{{int64(maxLineageFact)}}, query(t, s, "acme", `SELECT length(client) FROM lineage WHERE lineage_id = 'req-big'`))
	_, err := s.VerifyAudit("acme")
	require.NoError(t, err)
}

func TestLineageTamperingDetected(t *testing.T) {
	for _, tc := range []struct{ name, sql, table string }{
		{"edited lineage row", `UPDATE lineage SET credential = 'key:ffffffffffff'`, "lineage"},
		{"deleted lineage row", `DELETE FROM lineage`, "lineage"},
		{"upstream planted", `UPDATE lineage SET upstream = '{"id":"elsewhere"}'`, "lineage"},
		{"record moved to another request", `UPDATE log_rows SET lineage = lineage + 1 WHERE id = 1`, "logs"},
		{"record's lineage removed", `UPDATE log_rows SET lineage = NULL WHERE id = 1`, "logs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, master := openStore(t)
			require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", time.Now(), "a"), "req-1"), "v1"))
			dir := s.Dir()
			require.NoError(t, s.Close())
			tamperDB(t, dir, master, "acme", tc.sql)
			var re *RowsError
			require.ErrorAs(t, verifyErr(t, dir, master), &re)
			assert.Equal(t, tc.table, re.Table)
		})
	}
}

// A store written before lineage (no lineage column, no lineage table)
// verifies read-only as it is, and once a collector opens it the column
// is added and old and new rows verify together.
func TestLineageMigratesOldStores(t *testing.T) {
	dir, master := seededAs(t, true)
	tamperDB(t, dir, master, "acme", toFormat0+`DROP TABLE lineage; ALTER TABLE logs DROP COLUMN lineage; ALTER TABLE datapoints DROP COLUMN lineage; ALTER TABLE spans DROP COLUMN lineage;`)
	require.NoError(t, verifyErr(t, dir, master), "an old store verifies read-only")

	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", time.Now(), "new"), "req-1"), "v1"))
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(15+1+1), res.Rows)
	assert.Equal(t, [][]any{{int64(6), int64(1)}}, query(t, s, "acme", `SELECT count(*) - count(lineage), count(lineage) FROM logs`))
}

func TestLineageRetention(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now.Add(-48*time.Hour), "old"), "req-old"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "new"), "req-new"), "v1"))
	// Retention an hour later than the writes: the old record's time is
	// past, its request's delivery is not yet.
	_, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now.Add(time.Hour), "v1")
	require.NoError(t, err)
	assert.Len(t, query(t, s, "acme", `SELECT 1 FROM lineage`), 2, "a request's lineage outlives its records until its own delivery is past")
	_, err = s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, now.Add(25*time.Hour), "v1")
	require.NoError(t, err)
	assert.Empty(t, query(t, s, "acme", `SELECT 1 FROM lineage`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

func TestRecordDelivery(t *testing.T) {
	s, _ := openStore(t)
	ld := withLineage(logsWith("acme", time.Now(), "a", "b"), "req-1")
	redacted(ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(1), "email")
	redactedResource(ld.ResourceLogs().At(0), 1, 1, "email")
	at := time.Unix(1_800_000_000, 0)
	require.NoError(t, s.RecordDelivery("acme", policy.SignalLogs, LogsLineage(ld), "otlp_eu", at, "v1"))
	// A batch without lineage records nothing, and creates no tenant.
	require.NoError(t, s.RecordDelivery("globex", policy.SignalLogs, LogsLineage(logsWith("globex", time.Now(), "x")), "otlp_eu", at, "v1"))
	tenants, err := s.Tenants()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme"}, tenants)

	assert.Equal(t, [][]any{{"req-1", "otlp_eu", int64(2), nil, at.UnixNano(), `{"values":1,"records":1,"classes":{"email":1}}`}},
		query(t, s, "acme", `SELECT lineage_id, backend, records, first_id, delivered_unix_nano, redactions FROM lineage`))
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Rows)
	assert.Contains(t, lastEntry(t, s, "delivery").Detail, `"backend":"otlp_eu"`)
}

func lastEntry(t *testing.T, s *Store, kind string) AuditEntry {
	t.Helper()
	log, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].Kind == kind {
			return log[i]
		}
	}
	t.Fatalf("no %s entry", kind)
	return AuditEntry{}
}

func TestExportKeepsLineageID(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "a"), "req-1"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "b"), "req-2"), "v1"))
	var out strings.Builder
	_, err := s.Export("acme", ExportOptions{Signals: []policy.Signal{policy.SignalLogs}}, &out, "v1")
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(strings.TrimSpace(out.String())))
	require.NoError(t, err)
	require.Equal(t, 2, ld.ResourceLogs().Len(), "records of two requests do not share a resource")
	for i, want := range []string{"req-1", "req-2"} {
		v, ok := ld.ResourceLogs().At(i).Resource().Attributes().Get(identity.AttrLineage)
		require.True(t, ok)
		assert.Equal(t, identity.Lineage{ID: want}.Encode(), v.Str())
	}
}

// A record's lineage column names its own request's row, whatever rows
// deliveries and other writes took in between.
func TestLineageColumnNamesItsRow(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	one := withLineage(logsWith("acme", now, "a", "b"), "req-1")
	require.NoError(t, s.WriteLogs("acme", one, "v1"))
	require.NoError(t, s.RecordDelivery("acme", policy.SignalLogs, LogsLineage(one), "remote", now, "v1"))
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "c"), "req-2"), "v1"))
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "d"), "req-1"), "v1")) // the batch processor's second part of req-1
	assert.Equal(t, [][]any{{"a", "req-1", ""}, {"b", "req-1", ""}, {"c", "req-2", ""}, {"d", "req-1", ""}},
		query(t, s, "acme", `SELECT l.body, n.lineage_id, n.backend FROM logs l JOIN lineage n ON n.id = l.lineage ORDER BY l.id`))
	assert.Equal(t, [][]any{{"", int64(2)}, {"remote", int64(2)}, {"", int64(1)}},
		query(t, s, "acme", `SELECT backend, records FROM lineage WHERE lineage_id = 'req-1' ORDER BY id`))
	_, err := s.VerifyAudit("acme")
	require.NoError(t, err)
}

// In the quarantine, a request's resources are parts by decision, and
// the lineage names the sender.
func TestLineageDecisions(t *testing.T) {
	s, _ := openStore(t)
	ld := plog.NewLogs()
	for _, reason := range []string{"spoofed", "missing", "spoofed"} {
		one := withLineage(logsWith(policy.Quarantine, time.Now(), reason), "req-1")
		one.ResourceLogs().At(0).Resource().Attributes().PutStr(identity.AttrQuarantineReason, reason)
		one.ResourceLogs().At(0).MoveTo(ld.ResourceLogs().AppendEmpty())
	}
	require.NoError(t, s.WriteLogs(policy.Quarantine, ld, "v1"))
	assert.Equal(t, [][]any{{"quarantined:spoofed", int64(2), "acme"}, {"quarantined:missing", int64(1), "acme"}},
		query(t, s, policy.Quarantine, `SELECT decision, records, tenant FROM lineage ORDER BY id`))
}

// A request relayed from an edge keeps the edge's lineage as its
// upstream; a lineage table written before the upstream column migrates
// and verifies.
func TestLineageUpstream(t *testing.T) {
	s, master := openStore(t)
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", time.Now(), "before"), "req-0"), "v1"))
	dir := s.Dir()
	require.NoError(t, s.Close())
	tamperDB(t, dir, master, "acme", `ALTER TABLE lineage DROP COLUMN upstream`)
	require.NoError(t, verifyErr(t, dir, master))

	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	edge := identity.Lineage{ID: "edge-1", Accepted: 5, Client: "198.51.100.9:4444", Credential: "key:0123456789ab", Collector: strings.Repeat("e", 1000)}
	require.NoError(t, s.WriteLogs("acme", withLineageOf(logsWith("acme", time.Now(), "relayed"),
		identity.Lineage{ID: "req-1", Credential: "topic:tenancy.acme.logs", Upstream: &edge}), "v1"))
	rows := query(t, s, "acme", `SELECT lineage_id, upstream FROM lineage ORDER BY id`)
	require.Len(t, rows, 2)
	assert.Nil(t, rows[0][1])
	up, ok := identity.ParseLineage(rows[1][1].(string))
	require.True(t, ok)
	assert.Equal(t, "198.51.100.9:4444", up.Client)
	assert.Len(t, up.Collector, maxLineageFact, "cut like every fact")
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}
