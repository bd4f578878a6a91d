package localstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// blocksBatch is a batch whose runs (scopes) are 100, 37, 0, 1, 9 and 40
// records long over three resources, two with their request's lineage:
// blocks of every length, and runs that end inside one.
func blocksBatch(ts time.Time) (plog.Logs, pmetric.Metrics, ptrace.Traces) {
	ld, md, td := plog.NewLogs(), pmetric.NewMetrics(), ptrace.NewTraces()
	n := 0
	for r, runs := range [][]int{{100, 37}, {0, 1, 9}, {40}} {
		rl, rm, rs := ld.ResourceLogs().AppendEmpty(), md.ResourceMetrics().AppendEmpty(), td.ResourceSpans().AppendEmpty()
		for _, res := range []pcommon.Map{rl.Resource().Attributes(), rm.Resource().Attributes(), rs.Resource().Attributes()} {
			res.PutStr("service.name", fmt.Sprintf("svc-%d", r))
			res.PutStr("tenant.id", "acme")
		}
		if r != 1 {
			l := identity.Lineage{ID: fmt.Sprintf("0190a1b2c3d4700%dabcdef0123456789", r), Accepted: 1_700_000_000_000_000_000, Tenant: "acme", Auth: "api_key"}
			for _, res := range []pcommon.Map{rl.Resource().Attributes(), rm.Resource().Attributes(), rs.Resource().Attributes()} {
				res.PutStr(identity.AttrLineage, l.Encode())
			}
		}
		for s, length := range runs {
			sl, sm, ss := rl.ScopeLogs().AppendEmpty(), rm.ScopeMetrics().AppendEmpty(), rs.ScopeSpans().AppendEmpty()
			scope := fmt.Sprintf("scope-%d-%d", r, s)
			sl.Scope().SetName(scope)
			sm.Scope().SetName(scope)
			ss.Scope().SetName(scope)
			// A run's data points are spread over metrics of each kind.
			g := sm.Metrics().AppendEmpty()
			g.SetName("g")
			gauge := g.SetEmptyGauge()
			h := sm.Metrics().AppendEmpty()
			h.SetName("h")
			hist := h.SetEmptyHistogram()
			for i := range length {
				n++
				lr := sl.LogRecords().AppendEmpty()
				lr.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(n))))
				lr.SetSeverityText([]string{"INFO", "WARN"}[n%2])
				lr.Body().SetStr(fmt.Sprintf("record %d", n))
				lr.Attributes().PutInt("n", int64(n))
				if i%3 == 0 {
					lr.SetTraceID(pcommon.TraceID{1, byte(n)})
				}
				if i%2 == 0 {
					dp := gauge.DataPoints().AppendEmpty()
					dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
					dp.SetDoubleValue(float64(n) / 4)
					dp.Attributes().PutInt("n", int64(n))
				} else {
					dp := hist.DataPoints().AppendEmpty()
					dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
					dp.SetCount(uint64(n))
					dp.ExplicitBounds().FromRaw([]float64{1, float64(n)})
					dp.BucketCounts().FromRaw([]uint64{0, uint64(n), 0})
				}
				sp := ss.Spans().AppendEmpty()
				sp.SetName(fmt.Sprintf("span %d", n))
				sp.SetTraceID(pcommon.TraceID{2, byte(n)})
				sp.SetSpanID(pcommon.SpanID{3, byte(n)})
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(ts))
				sp.Attributes().PutInt("n", int64(n))
				if i%5 == 0 {
					sp.Events().AppendEmpty().SetName("ev")
				}
			}
		}
	}
	return ld, md, td
}

// TestBlocksWriteTheRowsRowByRowWrote: ingest in blocks stores the same
// rows, with the same ids, lineage rows and ingest entries (row count,
// first and last id), as ingest one row per statement (blockRows=1);
// both chains verify, a second batch continues from the first's ids, and
// so does one after retention deleted the table's last rows.
func TestBlocksWriteTheRowsRowByRowWrote(t *testing.T) {
	ts := time.Now().Add(-time.Hour)
	ld, md, td := blocksBatch(ts)
	stores := map[string]*Store{}
	for _, mode := range []string{"blocks", "rows"} {
		s, _ := openStore(t)
		if mode == "rows" {
			s.blockRows = 1
		}
		for range 2 {
			require.NoError(t, s.WriteLogs("acme", ld, "v1"))
			require.NoError(t, s.WriteMetrics("acme", md, "v1"))
			require.NoError(t, s.WriteTraces("acme", td, "v1"))
		}
		// A batch two days old, the table's last rows, deleted by
		// retention: the next batch takes their ids again, as SQLite
		// would give them.
		old, _, _ := blocksBatch(ts.Add(-48 * time.Hour))
		require.NoError(t, s.WriteLogs("acme", old, "v1"))
		deleted, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
		require.NoError(t, err)
		require.Equal(t, int64(187), deleted[policy.SignalLogs])
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
		stores[mode] = s
	}
	queries := []string{
		"SELECT id, time_unix_nano, observed_unix_nano, severity_number, severity_text, body, trace_id, span_id, service_name, scope_name, resource, attrs, lineage FROM logs ORDER BY id",
		"SELECT id, time_unix_nano, start_time_unix_nano, metric_name, metric_type, unit, value, count, sum, detail, service_name, scope_name, resource, attrs, lineage FROM datapoints ORDER BY id",
		"SELECT id, time_unix_nano, end_unix_nano, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service_name, scope_name, resource, attrs, events, lineage FROM spans ORDER BY id",
		"SELECT id, lineage_id, signal, records, first_id, last_id FROM lineage ORDER BY id",
		"SELECT kind, json_extract(detail, '$.records'), json_extract(detail, '$.first_id'), json_extract(detail, '$.last_id') FROM audit WHERE kind = 'ingest' ORDER BY seq",
	}
	// The ids SQLite gives: 1 up, the deleted ones taken again.
	for q, want := range map[string][]any{
		"SELECT min(id), max(id), count(*) FROM logs":       {int64(1), int64(561), int64(561)},
		"SELECT min(id), max(id), count(*) FROM datapoints": {int64(1), int64(374), int64(374)},
		"SELECT min(id), max(id), count(*) FROM spans":      {int64(1), int64(374), int64(374)},
	} {
		res, err := stores["blocks"].Query(context.Background(), "acme", q, QueryOptions{Actor: "test"}, "v1")
		require.NoError(t, err, q)
		require.Equal(t, want, res.Rows[0], q)
	}
	for _, q := range queries {
		var got [2]*QueryResult
		for i, mode := range []string{"blocks", "rows"} {
			res, err := stores[mode].Query(context.Background(), "acme", q, QueryOptions{Actor: "test", MaxRows: 10000}, "v1")
			require.NoError(t, err, q)
			require.False(t, res.Truncated)
			got[i] = res
		}
		require.Equal(t, got[1].Rows, got[0].Rows, q)
		require.NotEmpty(t, got[0].Rows, q)
	}
	for _, s := range stores {
		_, err := s.VerifyAudit("acme")
		require.NoError(t, err)
	}
}
