package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact"
)

// A lineage row's redactions are read from what the redactor leaves: the
// values from each resource entry's stamp, once per entry with records
// (never once per record), the records and classes from each record's
// class list. A request the batch processor merged holds two entries of
// acme's, one with its own attribute and two of three records changed,
// one with one of two; a third entry of the request has no records. The
// row stored here and the row of a delivery say the same, for each signal.
func TestLineageRedactionsFromTheRedactorsStamps(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte("tenants:\n  acme:\n    redaction: {classes: {email: mask}}\n"))
	require.NoError(t, err)
	r, err := redact.New(pol, redact.Options{})
	require.NoError(t, err)
	now := time.Now()
	ts := pcommon.NewTimestampFromTime(now)
	// Per entry: its resource's owner attribute, then its records' texts.
	entries := [][]string{
		{"bob@example.com", "paid by ann@example.com and cy@example.com", "shipped", "refund to dee@example.com"},
		{"ops", "mail eve@example.com", "ok"},
		{"fay@example.com"},
	}
	// 1 + 2 + 1 values in the first, 1 in the second: the third stores nothing.
	const want = `{"values":5,"records":3,"classes":{"email":3}}`
	stamp := func(res pcommon.Map, owner string) {
		res.PutStr(identity.AttrTenantID, "acme")
		res.PutStr("owner", owner)
		res.PutStr(identity.AttrLineage, identity.Lineage{ID: "req-1", Accepted: now.UnixNano(), Tenant: "acme", PolicyVersion: "pv1"}.Encode())
	}
	check := func(t *testing.T, s *Store, signal string) {
		t.Helper()
		rows := query(t, s, "acme", `SELECT backend, records, redactions FROM lineage WHERE signal = '`+signal+`' ORDER BY id`)
		require.Len(t, rows, 2)
		for _, row := range rows {
			assert.Equal(t, int64(5), row[1], "backend %q", row[0])
			assert.JSONEq(t, want, row[2].(string), "backend %q", row[0])
		}
	}

	t.Run("logs", func(t *testing.T) {
		ld := plog.NewLogs()
		for _, e := range entries {
			rl := ld.ResourceLogs().AppendEmpty()
			stamp(rl.Resource().Attributes(), e[0])
			for _, body := range e[1:] {
				lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
				lr.SetTimestamp(ts)
				lr.Body().SetStr(body)
			}
		}
		r.Logs(ld)
		s, _ := openStore(t)
		require.NoError(t, s.WriteLogs("acme", ld, "pv1"))
		require.NoError(t, s.RecordDelivery("acme", policy.SignalLogs, LogsLineage(ld), "remote", now, "pv1"))
		check(t, s, "logs")
	})
	t.Run("traces", func(t *testing.T) {
		td := ptrace.NewTraces()
		for _, e := range entries {
			rs := td.ResourceSpans().AppendEmpty()
			stamp(rs.Resource().Attributes(), e[0])
			for _, name := range e[1:] {
				sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
				sp.SetStartTimestamp(ts)
				sp.SetName(name)
			}
		}
		r.Traces(td)
		s, _ := openStore(t)
		require.NoError(t, s.WriteTraces("acme", td, "pv1"))
		require.NoError(t, s.RecordDelivery("acme", policy.SignalTraces, TracesLineage(td), "remote", now, "pv1"))
		check(t, s, "traces")
	})
	t.Run("metrics", func(t *testing.T) {
		md := pmetric.NewMetrics()
		for _, e := range entries {
			rm := md.ResourceMetrics().AppendEmpty()
			stamp(rm.Resource().Attributes(), e[0])
			for _, customer := range e[1:] {
				m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
				m.SetName("orders")
				dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
				dp.SetTimestamp(ts)
				dp.Attributes().PutStr("customer", customer)
			}
		}
		r.Metrics(md)
		s, _ := openStore(t)
		require.NoError(t, s.WriteMetrics("acme", md, "pv1"))
		require.NoError(t, s.RecordDelivery("acme", policy.SignalMetrics, MetricsLineage(md), "remote", now, "pv1"))
		check(t, s, "metrics")
	})
}
