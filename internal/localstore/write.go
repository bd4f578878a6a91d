package localstore

import (
	"math"
	"strconv"
	"time"

	"github.com/tenancyhq/tenancy/internal/pdatacount"
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
	// FirstID and LastID are the row ids the batch took, so a row leads
	// back to the entry that inserted it; RowsDigest is the sum of the
	// rows' keyed hashes (see digest.go), which audit verify checks the
	// table's rows against.
	FirstID    int64  `json:"first_id,omitempty"`
	LastID     int64  `json:"last_id,omitempty"`
	RowsDigest string `json:"rows_digest"`
	// Lineage accounts for the lineage rows the batch wrote.
	Lineage *RowsTally `json:"lineage,omitempty"`

	digest rowSum
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

// nanos is a timestamp as SQLite's signed integer: one past 2^63-1 (year
// 2262) would wrap round to a negative time, so it stops there; retention
// ages such a row from its ingestion (ApplyRetention).
func nanos(ts pcommon.Timestamp) int64 {
	if ts > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(ts)
}

func serviceName(res pcommon.Map) any {
	if v, ok := res.Get("service.name"); ok {
		return v.AsString()
	}
	return nil
}

// rowLineage is what a record row needs of its resource's lineage: the
// part it adds to and the value of its lineage column, the row id its
// request's lineage row will take (nil without). t.mu held, in a
// transaction.
func (t *tenantDB) rowLineage(l *Lineage, res pcommon.Map) (*lineagePart, any, error) {
	p := l.resource(res)
	if p == nil {
		return nil, nil, nil
	}
	if p.rowID == 0 {
		if l.nextRow == 0 {
			// The rows are written after the records (they count them),
			// so their ids are taken now: after the last, as SQLite
			// would. An id retention freed is reused only once every
			// record that named it is gone too (ApplyRetention).
			st, err := t.stmt(`SELECT coalesce(max(id), 0) + 1 FROM lineage`)
			if err != nil {
				return nil, nil, err
			}
			st.Step()
			l.nextRow = st.ColumnInt64(0)
			if err := st.Reset(); err != nil {
				return nil, nil, err
			}
		}
		p.rowID = l.nextRow
		l.nextRow++
	}
	return p, p.rowID, nil
}

// seeRow adds a stored row to its request's part, if it has one.
func seeRow(p *lineagePart, id int64, attrs pcommon.Map) {
	if p != nil {
		p.record(id, attrs)
	}
}

// appendIngest writes the batch's lineage rows and records the batch in
// the audit log. t.mu held.
func (t *tenantDB) appendIngest(now time.Time, sum *IngestSummary, l *Lineage, policyVersion string) error {
	var err error
	if sum.Lineage, err = t.insertLineage(l, sum.Signal, "", now.UnixNano()); err != nil {
		return err
	}
	sum.RowsDigest = sum.digest.String()
	_, err = t.appendAudit(now, "ingest", sum, policyVersion)
	return err
}

// ingestWrite is one transaction of ingest: the batches of one tenant's
// signal it stores, its rows' inserter, its "ingest" entry's summary and
// lineage, and when it was ingested.
type ingestWrite struct {
	t        *tenantDB
	ins      *blockInserter
	sum      IngestSummary
	lineage  *Lineage
	ingested int64
}

// writeBatches stores first, and the batches in more as if first held them
// too, in one transaction with one "ingest" entry: rows adds each batch's
// rows to table (columns after id), each batch a lineage part of its own
// (Lineage.nextBatch).
func writeBatches[T any](s *Store, tenant, policyVersion, signal, table string, columns []string, first T, more []T, rows func(*ingestWrite, T) error) error {
	t, err := s.tenant(tenant)
	if err != nil {
		return err
	}
	now := time.Now()
	return t.inTxBatch(true, func() error {
		w := &ingestWrite{t: t, sum: IngestSummary{Signal: signal}, lineage: &Lineage{}, ingested: now.UnixNano()}
		w.ins = t.newBlockInserter(&w.sum, columns, "ingested_unix_nano", "service_name", "scope_name", "resource", lineageColumn)
		if err := rows(w, first); err != nil {
			return err
		}
		for _, b := range more {
			w.lineage.nextBatch()
			if err := rows(w, b); err != nil {
				return err
			}
		}
		if err := w.ins.done(); err != nil {
			return err
		}
		if err := t.writeResourceAges(table); err != nil {
			return err
		}
		return t.appendIngest(now, &w.sum, w.lineage, policyVersion)
	})
}

// logColumns are the logs table's columns after id, in table order.
var logColumns = []string{"time_unix_nano", "observed_unix_nano", "ingested_unix_nano", "severity_number", "severity_text", "body", "trace_id", "span_id", "service_name", "scope_name", "resource", "attrs", lineageColumn}

// WriteLogs stores a batch of one tenant's logs in one transaction, with an
// "ingest" audit entry. The caller has already split batches by tenant.
// Batches in more are stored in the same transaction and entry, as if
// first held them too (the router's queue passes those waiting behind
// first: a transaction per small batch costs more than its rows).
func (s *Store) WriteLogs(tenant string, first plog.Logs, policyVersion string, more ...plog.Logs) error {
	return writeBatches(s, tenant, policyVersion, "logs", "logs", logColumns, first, more, (*ingestWrite).logs)
}

// logs adds the rows of one batch of logs.
func (w *ingestWrite) logs(ld plog.Logs) error {
	t, ins, sum, lineage, ingested := w.t, w.ins, &w.sum, w.lineage, w.ingested
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		part, lid, err := t.rowLineage(lineage, rl.Resource().Attributes())
		if err != nil {
			return err
		}
		res := resourceJSON(rl.Resource().Attributes())
		svc := serviceName(rl.Resource().Attributes())
		sum.Resources++
		var rid int64
		var rd [32]byte
		age := int64(noAge)
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			if rid == 0 && sl.LogRecords().Len() > 0 {
				if rid, rd, err = t.resourceID(res); err != nil {
					return err
				}
			}
			ins.startRun(sl.LogRecords().Len(), res, rd, ingested, svc, sl.Scope().Name(), rid, lid)
			for k := 0; k < sl.LogRecords().Len(); k++ {
				lr := sl.LogRecords().At(k)
				ts := nanos(lr.Timestamp())
				if ts == 0 {
					ts = nanos(lr.ObservedTimestamp())
				}
				if ts == 0 {
					ts = ingested
				}
				sum.see(ts)
				age = max(age, rowAge(ts, ingested))
				id, err := ins.add(intCell(ts), intCell(nanos(lr.ObservedTimestamp())), intCell(int64(lr.SeverityNumber())), textCell(lr.SeverityText()), bodyCell(lr.Body()),
					hexCell(lr.TraceID().IsEmpty(), lr.TraceID().String), hexCell(lr.SpanID().IsEmpty(), lr.SpanID().String),
					bytesCell(t.attrsJSON(lr.Attributes())))
				if err != nil {
					return err
				}
				seeRow(part, id, lr.Attributes())
			}
		}
		t.seeResource(rid, age)
	}
	return nil
}

// pointColumns are the datapoints table's columns after id, in table order.
var pointColumns = []string{"time_unix_nano", "start_time_unix_nano", "ingested_unix_nano", "metric_name", "metric_type", "unit", "value", "count", "sum", "detail", "service_name", "scope_name", "resource", "attrs", lineageColumn}

func numberValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

// WriteMetrics stores a batch of one tenant's metrics, one row per data
// point; histogram buckets and summary quantiles go to the detail JSON.
// more as in WriteLogs.
func (s *Store) WriteMetrics(tenant string, first pmetric.Metrics, policyVersion string, more ...pmetric.Metrics) error {
	return writeBatches(s, tenant, policyVersion, "metrics", "datapoints", pointColumns, first, more, (*ingestWrite).metrics)
}

// metrics adds the rows of one batch of metrics.
func (w *ingestWrite) metrics(md pmetric.Metrics) error {
	t, ins, sum, lineage, ingested := w.t, w.ins, &w.sum, w.lineage, w.ingested
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		part, lid, err := t.rowLineage(lineage, rm.Resource().Attributes())
		if err != nil {
			return err
		}
		res := resourceJSON(rm.Resource().Attributes())
		svc := serviceName(rm.Resource().Attributes())
		sum.Resources++
		var rid int64
		var rd [32]byte
		age := int64(noAge)
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			sm := rm.ScopeMetrics().At(j)
			points := 0
			for _, m := range sm.Metrics().All() {
				points += pdatacount.MetricDataPoints(m) // a row per data point
			}
			if rid == 0 && points > 0 {
				if rid, rd, err = t.resourceID(res); err != nil {
					return err
				}
			}
			ins.startRun(points, res, rd, ingested, svc, sm.Scope().Name(), rid, lid)
			for k := 0; k < sm.Metrics().Len(); k++ {
				m := sm.Metrics().At(k)
				row := func(ts, start pcommon.Timestamp, value, count, total, detail any, attrs pcommon.Map) error {
					tn := nanos(ts)
					if tn == 0 {
						tn = ingested
					}
					sum.see(tn)
					age = max(age, rowAge(tn, ingested))
					id, err := ins.add(intCell(tn), intCell(nanos(start)), textCell(m.Name()), textCell(m.Type().String()), textCell(m.Unit()),
						anyCell(value), anyCell(count), anyCell(total), anyCell(detail), bytesCell(t.attrsJSON(attrs)))
					if err != nil {
						return err
					}
					seeRow(part, id, attrs)
					return nil
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
						var d jsonObject
						d.floats("bounds", dp.ExplicitBounds().AsRaw())
						d.uints("counts", dp.BucketCounts().AsRaw())
						err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), d.String(), dp.Attributes())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for p := 0; p < m.ExponentialHistogram().DataPoints().Len() && err == nil; p++ {
						dp := m.ExponentialHistogram().DataPoints().At(p)
						var d jsonObject
						d.int("scale", int64(dp.Scale()))
						d.uint("zero_count", dp.ZeroCount())
						for _, side := range []struct {
							key string
							b   pmetric.ExponentialHistogramDataPointBuckets
						}{{"positive", dp.Positive()}, {"negative", dp.Negative()}} {
							d.object(side.key, func(o *jsonObject) {
								o.int("offset", int64(side.b.Offset()))
								o.uints("counts", side.b.BucketCounts().AsRaw())
							})
						}
						err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), d.String(), dp.Attributes())
					}
				case pmetric.MetricTypeSummary:
					for p := 0; p < m.Summary().DataPoints().Len() && err == nil; p++ {
						dp := m.Summary().DataPoints().At(p)
						var d jsonObject
						d.objects("quantiles", dp.QuantileValues().Len(), func(q int, o *jsonObject) {
							qv := dp.QuantileValues().At(q)
							o.float("quantile", qv.Quantile())
							o.float("value", qv.Value())
						})
						err = row(dp.Timestamp(), dp.StartTimestamp(), nil, int64(dp.Count()), dp.Sum(), d.String(), dp.Attributes())
					}
				}
				if err != nil {
					return err
				}
			}
		}
		t.seeResource(rid, age)
	}
	return nil
}

// eventsJSON is a span's events as a JSON array.
func eventsJSON(evs ptrace.SpanEventSlice) string {
	b := []byte{'['}
	for i, ev := range evs.All() {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"time_unix_nano":`...)
		b = strconv.AppendInt(b, nanos(ev.Timestamp()), 10)
		b = append(b, `,"name":`...)
		b = appendString(b, ev.Name())
		b = append(b, `,"attrs":`...)
		b = appendMap(b, ev.Attributes())
		b = append(b, '}')
	}
	return string(append(b, ']'))
}

// spanColumns are the spans table's columns after id, in table order.
var spanColumns = []string{"time_unix_nano", "end_unix_nano", "ingested_unix_nano", "trace_id", "span_id", "parent_span_id", "name", "kind", "status_code", "status_message", "service_name", "scope_name", "resource", "attrs", "events", lineageColumn}

// WriteTraces stores a batch of one tenant's spans; more as in WriteLogs.
func (s *Store) WriteTraces(tenant string, first ptrace.Traces, policyVersion string, more ...ptrace.Traces) error {
	return writeBatches(s, tenant, policyVersion, "traces", "spans", spanColumns, first, more, (*ingestWrite).traces)
}

// traces adds the rows of one batch of traces.
func (w *ingestWrite) traces(td ptrace.Traces) error {
	t, ins, sum, lineage, ingested := w.t, w.ins, &w.sum, w.lineage, w.ingested
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		part, lid, err := t.rowLineage(lineage, rs.Resource().Attributes())
		if err != nil {
			return err
		}
		res := resourceJSON(rs.Resource().Attributes())
		svc := serviceName(rs.Resource().Attributes())
		sum.Resources++
		var rid int64
		var rd [32]byte
		age := int64(noAge)
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			if rid == 0 && ss.Spans().Len() > 0 {
				if rid, rd, err = t.resourceID(res); err != nil {
					return err
				}
			}
			ins.startRun(ss.Spans().Len(), res, rd, ingested, svc, ss.Scope().Name(), rid, lid)
			for k := 0; k < ss.Spans().Len(); k++ {
				sp := ss.Spans().At(k)
				ts := nanos(sp.StartTimestamp())
				if ts == 0 {
					ts = ingested
				}
				sum.see(ts)
				age = max(age, rowAge(ts, ingested))
				var events cell
				if sp.Events().Len() > 0 {
					events = textCell(eventsJSON(sp.Events()))
				}
				parent := ""
				if !sp.ParentSpanID().IsEmpty() {
					parent = sp.ParentSpanID().String()
				}
				id, err := ins.add(intCell(ts), intCell(nanos(sp.EndTimestamp())), textCell(sp.TraceID().String()), textCell(sp.SpanID().String()), textCell(parent),
					textCell(sp.Name()), textCell(sp.Kind().String()), textCell(sp.Status().Code().String()), textCell(sp.Status().Message()), bytesCell(t.attrsJSON(sp.Attributes())), events)
				if err != nil {
					return err
				}
				seeRow(part, id, sp.Attributes())
			}
		}
		t.seeResource(rid, age)
	}
	return nil
}
