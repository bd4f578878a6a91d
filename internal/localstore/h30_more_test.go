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
