package pdatacount

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func TestCounts(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	sl.LogRecords().AppendEmpty()
	sl.LogRecords().AppendEmpty()
	assert.Equal(t, 3, LogRecords(rl))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.ScopeSpans().AppendEmpty()
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	assert.Equal(t, 1, Spans(rs))

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty()
	h := ms.AppendEmpty().SetEmptyHistogram()
	h.DataPoints().AppendEmpty()
	h.DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	ms.AppendEmpty() // no type: no points
	assert.Equal(t, 6, DataPoints(rm))
	assert.Equal(t, md.DataPointCount(), DataPoints(rm), "agrees with pdata's count of the whole batch")
}

func TestPointAttributes(t *testing.T) {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Attributes().PutStr("p", "gauge")
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty().Attributes().PutStr("p", "sum")
	h := ms.AppendEmpty().SetEmptyHistogram()
	h.DataPoints().AppendEmpty().Attributes().PutStr("p", "histogram")
	h.DataPoints().AppendEmpty().Attributes().PutStr("p", "histogram")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes().PutStr("p", "exponential")
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes().PutStr("p", "summary")
	ms.AppendEmpty()
	var seen []string
	for _, m := range ms.All() {
		PointAttributes(m, func(a pcommon.Map) {
			v, _ := a.Get("p")
			seen = append(seen, v.Str())
		})
	}
	assert.Equal(t, []string{"gauge", "sum", "histogram", "histogram", "exponential", "summary"}, seen)
}
