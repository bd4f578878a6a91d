package tenantgatewayreceiver

import (
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// checkAttributes refuses a payload with a record over the tenant's
// max_attributes_per_record, naming the first such record. A record's
// count is every attribute it carries: its resource's, its scope's and its
// own (a span's events' and links', a data point's exemplars'), each
// attribute counting 1 plus every key and element nested in its value, so
// neither 1,000 resource attributes nor one attribute holding a 1,000-key
// map slip under a limit of 128.
func checkAttributes(p payload, maxAttrs int64) *httpError {
	if maxAttrs <= 0 {
		return nil
	}
	c := attrCheck{max: int(maxAttrs)}
	switch p.signal {
	case signalLogs:
		for i, rl := range p.logs.ResourceLogs().All() {
			res := countMap(rl.Resource().Attributes())
			for j, sl := range rl.ScopeLogs().All() {
				scope := countMap(sl.Scope().Attributes())
				for k, lr := range sl.LogRecords().All() {
					if c.over(res, scope, countMap(lr.Attributes())) {
						return c.refuse(fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]", i, j, k))
					}
				}
			}
		}
	case signalTraces:
		for i, rs := range p.traces.ResourceSpans().All() {
			res := countMap(rs.Resource().Attributes())
			for j, ss := range rs.ScopeSpans().All() {
				scope := countMap(ss.Scope().Attributes())
				for k, s := range ss.Spans().All() {
					n := countMap(s.Attributes())
					for _, e := range s.Events().All() {
						n += countMap(e.Attributes())
					}
					for _, l := range s.Links().All() {
						n += countMap(l.Attributes())
					}
					if c.over(res, scope, n) {
						return c.refuse(fmt.Sprintf("resourceSpans[%d].scopeSpans[%d].spans[%d]", i, j, k))
					}
				}
			}
		}
	case signalMetrics:
		for i, rm := range p.metrics.ResourceMetrics().All() {
			res := countMap(rm.Resource().Attributes())
			for j, sm := range rm.ScopeMetrics().All() {
				scope := countMap(sm.Scope().Attributes())
				for k, m := range sm.Metrics().All() {
					if d, ok := c.overDataPoint(m, res, scope); ok {
						return c.refuse(fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d] (%s) data point %d", i, j, k, m.Name(), d))
					}
				}
			}
		}
	}
	return nil
}

// attrCheck remembers the counts of the first record over the limit.
type attrCheck struct {
	max             int
	res, scope, rec int
}

func (c *attrCheck) over(res, scope, rec int) bool {
	if res+scope+rec <= c.max {
		return false
	}
	c.res, c.scope, c.rec = res, scope, rec
	return true
}

func (c *attrCheck) refuse(where string) *httpError {
	return errBadRequest("too_many_attributes",
		"%s has %d attributes counted at every level (resource %d, scope %d, record %d), nested map keys and list elements included, over the tenant's max_attributes_per_record %d",
		where, c.res+c.scope+c.rec, c.res, c.scope, c.rec, c.max)
}

// overDataPoint finds the first data point of m over the limit.
func (c *attrCheck) overDataPoint(m pmetric.Metric, res, scope int) (int, bool) {
	point := func(attrs pcommon.Map, ex pmetric.ExemplarSlice) int {
		n := countMap(attrs)
		for _, e := range ex.All() {
			n += countMap(e.FilteredAttributes())
		}
		return n
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for d, dp := range m.Gauge().DataPoints().All() {
			if c.over(res, scope, point(dp.Attributes(), dp.Exemplars())) {
				return d, true
			}
		}
	case pmetric.MetricTypeSum:
		for d, dp := range m.Sum().DataPoints().All() {
			if c.over(res, scope, point(dp.Attributes(), dp.Exemplars())) {
				return d, true
			}
		}
	case pmetric.MetricTypeHistogram:
		for d, dp := range m.Histogram().DataPoints().All() {
			if c.over(res, scope, point(dp.Attributes(), dp.Exemplars())) {
				return d, true
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		for d, dp := range m.ExponentialHistogram().DataPoints().All() {
			if c.over(res, scope, point(dp.Attributes(), dp.Exemplars())) {
				return d, true
			}
		}
	case pmetric.MetricTypeSummary:
		for d, dp := range m.Summary().DataPoints().All() {
			if c.over(res, scope, countMap(dp.Attributes())) {
				return d, true
			}
		}
	}
	return 0, false
}

// countMap counts m's attributes and every key and element nested in
// their values. Nesting is bounded by the decoders (maxJSONDepth, pdata's
// protobuf recursion limit), so the recursion is too.
func countMap(m pcommon.Map) int {
	n := m.Len()
	for _, v := range m.All() {
		n += countNested(v)
	}
	return n
}

func countNested(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return countMap(v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		n := s.Len()
		for _, e := range s.All() {
			n += countNested(e)
		}
		return n
	}
	return 0
}
