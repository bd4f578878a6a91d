package localstore

import (
	"encoding/json"
	"time"

	"github.com/ncruces/go-sqlite3"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// IngestSummary is what an "ingest" audit entry records about a batch.
type IngestSummary struct {
	Signal    string `json:"signal"`
	Records   int    `json:"records"`
	Resources int    `json:"resources"`
	MinTime   int64  `json:"min_time_unix_nano"`
	MaxTime   int64  `json:"max_time_unix_nano"`
}

func (s *IngestSummary) see(t int64) {
	if s.Records == 0 || t < s.MinTime {
		s.MinTime = t
	}
	if t > s.MaxTime {
		s.MaxTime = t
	}
	s.Records++
}

func attrsJSON(m pcommon.Map) string {
	if m.Len() == 0 {
		return "{}"
	}
	b, err := json.Marshal(m.AsRaw())
	if err != nil {
		return "{}"
	}
	return string(b)
}

func serviceName(res pcommon.Map) any {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return nil
}

func bindAny(st *sqlite3.Stmt, i int, v any) {
	switch x := v.(type) {
	case nil:
		_ = st.BindNull(i)
	case string:
		_ = st.BindText(i, x)
	case int64:
		_ = st.BindInt64(i, x)
	case int:
		_ = st.BindInt64(i, int64(x))
	case float64:
		_ = st.BindFloat(i, x)
	}
}

func execWith(st *sqlite3.Stmt, args ...any) error {
	for i, a := range args {
		bindAny(st, i+1, a)
	}
	return st.Exec()
}

func hexOrNil(empty bool, s string) any {
	if empty {
		return nil
	}
	return s
}

const sqlInsertLog = `INSERT INTO logs(time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, body, trace_id, span_id, service_name, scope_name, resource, attrs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`

// WriteLogs stores a batch of one tenant's logs in one transaction, with an
// "ingest" audit entry. The caller has already split batches by tenant.
func (s *Store) WriteLogs(tenant string, ld plog.Logs, policyVersion string) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	now := time.Now()
	ingested := now.UnixNano()
	return t.inTx(func() error {
		st, err := t.stmt(sqlInsertLog)
		if err != nil {
			return err
		}
		sum := IngestSummary{Signal: "logs"}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			res := attrsJSON(rl.Resource().Attributes())
			svc := serviceName(rl.Resource().Attributes())
			sum.Resources++
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				scope := sl.Scope().Name()
				for k := 0; k < sl.LogRecords().Len(); k++ {
					lr := sl.LogRecords().At(k)
					ts := int64(lr.Timestamp())
					if ts == 0 {
						ts = int64(lr.ObservedTimestamp())
					}
					if ts == 0 {
						ts = ingested
					}
					sum.see(ts)
					var body any
					if lr.Body().Type() != pcommon.ValueTypeEmpty {
						body = lr.Body().AsString()
					}
					err := execWith(st, ts, int64(lr.ObservedTimestamp()), ingested, int64(lr.SeverityNumber()), lr.SeverityText(), body,
						hexOrNil(lr.TraceID().IsEmpty(), lr.TraceID().String()), hexOrNil(lr.SpanID().IsEmpty(), lr.SpanID().String()),
						svc, scope, res, attrsJSON(lr.Attributes()))
					if err != nil {
						return err
					}
				}
			}
		}
		_, err = t.appendAudit(now, "ingest", sum, policyVersion)
		return err
	})
}

const sqlInsertPoint = `INSERT INTO datapoints(time_unix_nano, start_time_unix_nano, ingested_unix_nano, metric_name, metric_type, unit, value, count, sum, detail, service_name, scope_name, resource, attrs) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

func numberValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

// WriteMetrics stores a batch of one tenant's metrics, one row per data
// point; histogram buckets and summary quantiles go to the detail JSON.
func (s *Store) WriteMetrics(tenant string, md pmetric.Metrics, policyVersion string) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	now := time.Now()
	ingested := now.UnixNano()
	return t.inTx(func() error {
		st, err := t.stmt(sqlInsertPoint)
		if err != nil {
			return err
		}
		sum := IngestSummary{Signal: "metrics"}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			res := attrsJSON(rm.Resource().Attributes())
			svc := serviceName(rm.Resource().Attributes())
			sum.Resources++
			for j := 0; j < rm.ScopeMetrics().Len(); j++ {
				sm := rm.ScopeMetrics().At(j)
				scope := sm.Scope().Name()
				for k := 0; k < sm.Metrics().Len(); k++ {
					m := sm.Metrics().At(k)
					row := func(ts, start pcommon.Timestamp, value, count, total, detail any, attrs pcommon.Map) error {
						tn := int64(ts)
						if tn == 0 {
							tn = ingested
						}
						sum.see(tn)
						return execWith(st, tn, int64(start), ingested, m.Name(), m.Type().String(), m.Unit(), value, count, total, detail, svc, scope, res, attrsJSON(attrs))
					}
					var err error
					switch m.Type() {
					case pmetric.MetricTypeGauge:
						for p := 0; p < m.Gauge().DataPoints().Len() && err == nil; p++ {
							dp := m.Gauge().DataPoints().At(p)
							err = row(dp.Timestamp(), dp.StartTimestamp(), numberValue(dp), nil, nil, nil, dp.Attributes())
						}
					case pmetric.MetricTypeSum:
						for p := 0; p < m.Sum().DataPoints().Len() && err == nil; p++ {
							dp := m.Sum().DataPoints().At(p)
							err = row(dp.Timestamp(), dp.StartTimestamp(), numberValue(dp), nil, nil, nil, dp.Attributes())
						}
					case pmetric.MetricTypeHistogram:
						for p := 0; p < m.Histogram().DataPoints().Len() && err == nil; p++ {
							dp := m.Histogram().DataPoints().At(p)
							d, _ := json.Marshal(map[string]any{"bounds": dp.ExplicitBounds().AsRaw(), "counts": dp.BucketCounts().AsRaw()})
							err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), string(d), dp.Attributes())
						}
					case pmetric.MetricTypeExponentialHistogram:
						for p := 0; p < m.ExponentialHistogram().DataPoints().Len() && err == nil; p++ {
							dp := m.ExponentialHistogram().DataPoints().At(p)
							d, _ := json.Marshal(map[string]any{"scale": dp.Scale(), "zero_count": dp.ZeroCount(),
								"positive": map[string]any{"offset": dp.Positive().Offset(), "counts": dp.Positive().BucketCounts().AsRaw()},
								"negative": map[string]any{"offset": dp.Negative().Offset(), "counts": dp.Negative().BucketCounts().AsRaw()}})
							err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), string(d), dp.Attributes())
						}
					case pmetric.MetricTypeSummary:
						for p := 0; p < m.Summary().DataPoints().Len() && err == nil; p++ {
							dp := m.Summary().DataPoints().At(p)
							qs := make([]map[string]float64, 0, dp.QuantileValues().Len())
							for q := 0; q < dp.QuantileValues().Len(); q++ {
								qv := dp.QuantileValues().At(q)
								qs = append(qs, map[string]float64{"quantile": qv.Quantile(), "value": qv.Value()})
							}
							d, _ := json.Marshal(map[string]any{"quantiles": qs})
							err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), string(d), dp.Attributes())
						}
					}
					if err != nil {
						return err
					}
				}
			}
		}
		_, err = t.appendAudit(now, "ingest", sum, policyVersion)
		return err
	})
}

const sqlInsertSpan = `INSERT INTO spans(time_unix_nano, end_unix_nano, ingested_unix_nano, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service_name, scope_name, resource, attrs, events) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

// WriteTraces stores a batch of one tenant's spans.
func (s *Store) WriteTraces(tenant string, td ptrace.Traces, policyVersion string) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	now := time.Now()
	ingested := now.UnixNano()
	return t.inTx(func() error {
		st, err := t.stmt(sqlInsertSpan)
		if err != nil {
			return err
		}
		sum := IngestSummary{Signal: "traces"}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			res := attrsJSON(rs.Resource().Attributes())
			svc := serviceName(rs.Resource().Attributes())
			sum.Resources++
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				scope := ss.Scope().Name()
				for k := 0; k < ss.Spans().Len(); k++ {
					sp := ss.Spans().At(k)
					ts := int64(sp.StartTimestamp())
					if ts == 0 {
						ts = ingested
					}
					sum.see(ts)
					var events any
					if sp.Events().Len() > 0 {
						evs := make([]map[string]any, 0, sp.Events().Len())
						for e := 0; e < sp.Events().Len(); e++ {
							ev := sp.Events().At(e)
							evs = append(evs, map[string]any{"time_unix_nano": int64(ev.Timestamp()), "name": ev.Name(), "attrs": ev.Attributes().AsRaw()})
						}
						b, _ := json.Marshal(evs)
						events = string(b)
					}
					parent := ""
					if !sp.ParentSpanID().IsEmpty() {
						parent = sp.ParentSpanID().String()
					}
					err := execWith(st, ts, int64(sp.EndTimestamp()), ingested, sp.TraceID().String(), sp.SpanID().String(), parent,
						sp.Name(), sp.Kind().String(), sp.Status().Code().String(), sp.Status().Message(), svc, scope, res, attrsJSON(sp.Attributes()), events)
					if err != nil {
						return err
					}
				}
			}
		}
		_, err = t.appendAudit(now, "ingest", sum, policyVersion)
		return err
	})
}
