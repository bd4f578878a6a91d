package redact

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Logs redacts ld in place and returns what it did.
func (r *Redactor) Logs(ld plog.Logs) Stats {
	ps := r.newPass()
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		for _, sl := range rl.ScopeLogs().All() {
			ps.attrs(sl.Scope().Attributes(), true)
		}
		ps.flush(res)
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				ps.attrs(lr.Attributes(), true)
				ps.value(lr.Body())
				ps.flush(lr.Attributes())
			}
		}
	}
	return ps.stats
}

// Traces redacts td in place and returns what it did.
func (r *Redactor) Traces(td ptrace.Traces) Stats {
	ps := r.newPass()
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		for _, ss := range rs.ScopeSpans().All() {
			ps.attrs(ss.Scope().Attributes(), true)
		}
		ps.flush(res)
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				ps.setStr(sp.Name(), sp.SetName)
				ps.setStr(sp.Status().Message(), sp.Status().SetMessage)
				ps.attrs(sp.Attributes(), true)
				for _, ev := range sp.Events().All() {
					ps.setStr(ev.Name(), ev.SetName)
					ps.attrs(ev.Attributes(), false)
				}
				for _, l := range sp.Links().All() {
					ps.attrs(l.Attributes(), false)
				}
				ps.flush(sp.Attributes())
			}
		}
	}
	return ps.stats
}

// Metrics redacts md in place and returns what it did.
func (r *Redactor) Metrics(md pmetric.Metrics) Stats {
	ps := r.newPass()
	for _, rm := range md.ResourceMetrics().All() {
		res := rm.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		for _, sm := range rm.ScopeMetrics().All() {
			ps.attrs(sm.Scope().Attributes(), true)
		}
		ps.flush(res)
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				ps.metric(m)
			}
		}
	}
	return ps.stats
}

func (ps *pass) metric(m pmetric.Metric) {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			ps.point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			ps.point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			ps.point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			ps.point(dp.Attributes(), dp.Exemplars())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			ps.point(dp.Attributes(), pmetric.NewExemplarSlice())
		}
	}
}

func (ps *pass) point(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) {
	ps.attrs(attrs, true)
	for _, ex := range exemplars.All() {
		ps.attrs(ex.FilteredAttributes(), false)
	}
	ps.flush(attrs)
}
