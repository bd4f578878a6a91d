package redact

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/pdatacount"
)

// Logs redacts ld in place and returns what it did.
func (r *Redactor) Logs(ld plog.Logs) Stats {
	ps := r.newPass()
	ps.audit.left = ld.LogRecordCount()
	for _, rl := range ld.ResourceLogs().All() {
		res := rl.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		ps.setStr(rl.SchemaUrl(), rl.SetSchemaUrl)
		for _, sl := range rl.ScopeLogs().All() {
			ps.scope(sl.Scope())
			ps.setStr(sl.SchemaUrl(), sl.SetSchemaUrl)
		}
		ps.flushOwn()
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				ps.attrs(lr.Attributes(), true)
				ps.carve = true
				ps.value(lr.Body())
				ps.carve = false
				ps.setClean(&ps.severity, lr.SeverityText(), lr.SetSeverityText)
				ps.setStr(lr.EventName(), lr.SetEventName)
				ps.flush(lr.Attributes())
			}
		}
		ps.endResource(res)
	}
	return ps.done()
}

// Traces redacts td in place and returns what it did.
func (r *Redactor) Traces(td ptrace.Traces) Stats {
	ps := r.newPass()
	ps.audit.left = td.SpanCount()
	for _, rs := range td.ResourceSpans().All() {
		res := rs.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		ps.setStr(rs.SchemaUrl(), rs.SetSchemaUrl)
		for _, ss := range rs.ScopeSpans().All() {
			ps.scope(ss.Scope())
			ps.setStr(ss.SchemaUrl(), ss.SetSchemaUrl)
		}
		ps.flushOwn()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				ps.setStr(sp.Name(), sp.SetName)
				ps.setStr(sp.Status().Message(), sp.Status().SetMessage)
				ps.traceState(sp.TraceState())
				ps.attrs(sp.Attributes(), true)
				for _, ev := range sp.Events().All() {
					ps.setStr(ev.Name(), ev.SetName)
					ps.attrs(ev.Attributes(), false)
				}
				for _, l := range sp.Links().All() {
					ps.attrs(l.Attributes(), false)
					ps.traceState(l.TraceState())
				}
				ps.flush(sp.Attributes())
			}
		}
		ps.endResource(res)
	}
	return ps.done()
}

// Metrics redacts md in place and returns what it did.
func (r *Redactor) Metrics(md pmetric.Metrics) Stats {
	ps := r.newPass()
	ps.audit.left = md.DataPointCount()
	for _, rm := range md.ResourceMetrics().All() {
		res := rm.Resource().Attributes()
		ps.resource(res)
		ps.attrs(res, true)
		ps.setStr(rm.SchemaUrl(), rm.SetSchemaUrl)
		for _, sm := range rm.ScopeMetrics().All() {
			ps.scope(sm.Scope())
			ps.setStr(sm.SchemaUrl(), sm.SetSchemaUrl)
		}
		ps.flushOwn()
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				ps.metric(m)
			}
		}
		ps.endResource(res)
	}
	return ps.done()
}

func (ps *pass) metric(m pmetric.Metric) {
	// A metric's name, description, unit and metadata are strings a client
	// chose like any other: a customer's name in them is stored and,
	// through remote write's __name__, becomes a series name in a shared
	// backend. A changed name carries the redaction marker and is counted
	// on its first point, or on the resource when it has none, so the count
	// is not left for the next record, perhaps another tenant's.
	ps.setStr(m.Name(), m.SetName)
	ps.setStr(m.Description(), m.SetDescription)
	ps.setStr(m.Unit(), m.SetUnit)
	ps.attrs(m.Metadata(), false)
	if pdatacount.MetricDataPoints(m) == 0 {
		ps.flushOwn()
		return
	}
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

// scope redacts an instrumentation scope: its name and version are strings
// a client chose, stored beside every record.
func (ps *pass) scope(sc pcommon.InstrumentationScope) {
	ps.attrs(sc.Attributes(), true)
	ps.setStr(sc.Name(), sc.SetName)
	ps.setStr(sc.Version(), sc.SetVersion)
}

// traceState redacts a W3C tracestate, whose vendor values are free text.
func (ps *pass) traceState(ts pcommon.TraceState) {
	ps.setStr(ts.AsRaw(), ts.FromRaw)
}
