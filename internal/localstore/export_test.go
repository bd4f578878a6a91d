package localstore

import (
	"bufio"
	"bytes"
	"math"
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

// rowsOf is every column of a table but the id and the ingestion time.
func rowsOf(t *testing.T, s *Store, tenant, table string) [][]any {
	t.Helper()
	res, err := s.Query(t.Context(), tenant, "SELECT * FROM "+table+" ORDER BY id", QueryOptions{}, "v1")
	require.NoError(t, err)
	var out [][]any
	for _, row := range res.Rows {
		var keep []any
		for i, c := range res.Columns {
			if c != "id" && c != "ingested_unix_nano" {
				keep = append(keep, row[i])
			}
		}
		out = append(out, keep)
	}
	return out
}

func TestExportRoundTrip(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	ld := logsWith("acme", now, "a", "b")
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty()
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(now))
	lr.Body().SetEmptyMap().PutDouble("x", 1.5)
	lr.Attributes().PutInt("n", 42)
	lr.Attributes().PutDouble("f", 3)
	lr.Attributes().PutBool("ok", true)
	lr.Attributes().PutEmptySlice("l").AppendEmpty().SetStr("y")
	lr.Attributes().PutDouble("nan", math.NaN())
	lr.SetTraceID([16]byte{9})
	lr.SetSeverityNumber(plog.SeverityNumberError)
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "c"), "v1"))

	md := metricsWith("acme", now, "m")
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	sum := ms.AppendEmpty()
	sum.SetName("orders_total")
	sum.SetEmptySum().DataPoints().AppendEmpty().SetDoubleValue(math.NaN())
	eh := ms.AppendEmpty()
	eh.SetName("exp")
	ep := eh.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ep.SetScale(2)
	ep.SetCount(4)
	ep.SetZeroCount(1)
	ep.Positive().SetOffset(-1)
	ep.Positive().BucketCounts().FromRaw([]uint64{1, 2})
	sm := ms.AppendEmpty()
	sm.SetName("summary")
	sp := sm.SetEmptySummary().DataPoints().AppendEmpty()
	sp.SetCount(2)
	sp.SetSum(math.Inf(1))
	q := sp.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(math.Inf(-1))
	require.NoError(t, s.WriteMetrics("acme", md, "v1"))
	td := tracesWith("acme", now, "span")
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	span.SetKind(ptrace.SpanKindServer)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("boom")
	span.SetParentSpanID([8]byte{7})
	span.Events().At(0).Attributes().PutInt("attempt", 2)
	require.NoError(t, s.WriteTraces("acme", td, "v1"))

	var out bytes.Buffer
	counts, err := s.Export("acme", ExportOptions{Actor: "test"}, &out, "v1")
	require.NoError(t, err)
	assert.Equal(t, map[policy.Signal]int{policy.SignalLogs: 4, policy.SignalMetrics: 5, policy.SignalTraces: 1}, counts)

	// Every line is an OTLP/JSON request a collector reads; stored again
	// they give the same rows.
	fresh, _ := openStore(t)
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte(`{"resourceLogs"`)):
			got, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
			require.NoError(t, err)
			require.NoError(t, fresh.WriteLogs("acme", got, "v1"))
		case bytes.HasPrefix(line, []byte(`{"resourceMetrics"`)):
			got, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
			require.NoError(t, err)
			require.NoError(t, fresh.WriteMetrics("acme", got, "v1"))
		case bytes.HasPrefix(line, []byte(`{"resourceSpans"`)):
			got, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
			require.NoError(t, err)
			require.NoError(t, fresh.WriteTraces("acme", got, "v1"))
		default:
			t.Fatalf("not an OTLP/JSON request: %.80s", line)
		}
	}
	require.NoError(t, sc.Err())
	for _, table := range []string{"logs", "datapoints", "spans"} {
		assert.Equal(t, rowsOf(t, s, "acme", table), rowsOf(t, fresh, "acme", table), table)
	}
	res, err := fresh.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(10), res.Rows)
	assert.Equal(t, [][]any{{int64(1)}}, query(t, s, "acme", "SELECT count(*) FROM audit WHERE kind = 'export'"))
}
