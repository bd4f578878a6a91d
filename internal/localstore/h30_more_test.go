package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TestWriteMoreInOneTransaction: batches passed as more are stored as if
// the first held them: every row, in order, under one ingest entry that
// counts them all, and the chain verifies over them.
func TestWriteMoreInOneTransaction(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "a1", "a2"), "v1", logsWith("acme", now, "b1"), logsWith("acme", now, "c1", "c2")))
	require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", now, "m1"), "v1", metricsWith("acme", now, "m2")))
	require.NoError(t, s.WriteTraces("acme", tracesWith("acme", now, "s1"), "v1", []ptrace.Traces{tracesWith("acme", now, "s2"), tracesWith("acme", now, "s3")}...))
	// No more: as before.
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "d1"), "v1"))
	require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", now, "m3"), "v1", []pmetric.Metrics{}...))

	assert.Equal(t, [][]any{{"a1"}, {"a2"}, {"b1"}, {"c1"}, {"c2"}, {"d1"}}, query(t, s, "acme", `SELECT body FROM logs ORDER BY id`))
	assert.Equal(t, [][]any{{"m1"}, {"m2"}, {"m3"}}, query(t, s, "acme", `SELECT json_extract(attrs, '$.marker') FROM datapoints WHERE metric_name = 'orders' ORDER BY id`))
	assert.Equal(t, [][]any{{"s1"}, {"s2"}, {"s3"}}, query(t, s, "acme", `SELECT name FROM spans ORDER BY id`))
	assert.Equal(t, [][]any{
		{"logs", int64(5), int64(3)}, {"metrics", int64(4), int64(2)}, {"traces", int64(3), int64(3)},
		{"logs", int64(1), int64(1)}, {"metrics", int64(2), int64(1)},
	}, query(t, s, "acme", `SELECT json_extract(detail, '$.signal'), json_extract(detail, '$.records'), json_extract(detail, '$.resources') FROM audit WHERE kind = 'ingest' ORDER BY seq`))
	v, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.EqualValues(t, 5+4+3+1+2, v.Rows, "the chain accounts for every row")
}

// TestWriteMoreKeepsEachBatchsLineageRow (hostile review h30): a request
// whose records are in two of the batches one write takes, with another
// request's between, has a lineage row per batch, as when each batch was
// a write of its own; one row would give it a row id range that spans the
// other request's rows.
func TestWriteMoreKeepsEachBatchsLineageRow(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", now, "a1", "a2"), "req-a"), "v1",
		withLineage(logsWith("acme", now, "b1"), "req-b"), withLineage(logsWith("acme", now, "a3"), "req-a")))
	assert.Equal(t, [][]any{
		{"req-a", int64(2), int64(1), int64(2)},
		{"req-b", int64(1), int64(3), int64(3)},
		{"req-a", int64(1), int64(4), int64(4)},
	}, query(t, s, "acme", `SELECT lineage_id, records, first_id, last_id FROM lineage ORDER BY id`))
	assert.Equal(t, [][]any{{"a1", "req-a"}, {"a2", "req-a"}, {"b1", "req-b"}, {"a3", "req-a"}},
		query(t, s, "acme", `SELECT l.body, (SELECT lineage_id FROM lineage WHERE id = l.lineage) FROM logs l ORDER BY l.id`))
	v, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	assert.EqualValues(t, 4+3, v.Rows, "the chain accounts for every record and lineage row")
}
