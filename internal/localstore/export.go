package localstore

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// ExportOptions bound an export.
type ExportOptions struct {
	// Signals to export; empty: all three.
	Signals []policy.Signal
	// Since and Until bound the records' time (time_unix_nano).
	Since, Until time.Time
	// Actor says who exported, for the audit entry.
	Actor string
}

// exportBatch is how many rows go into one line (one OTLP request).
const exportBatch = 1000

// Export writes the tenant's records as OTLP/JSON lines, one export
// request (ExportLogsServiceRequest and so on) per line of at most 1,000
// records, as an OTLP/JSON file exporter writes them and any collector's
// otlpjsonfile receiver or OTLP/HTTP endpoint reads them back. Stored
// again, each record gives the row it came from (the id and the ingestion
// time aside); what the store does not keep (a sum's temporality, a log's
// flags, a span's links) is not in the export either. The export is
// recorded in the tenant's audit log. It returns the records per signal.
func (s *Store) Export(tenant string, opts ExportOptions, w io.Writer, policyVersion string) (map[policy.Signal]int, error) {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	signals := opts.Signals
	if len(signals) == 0 {
		signals = policy.Signals
	}
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !opts.Since.IsZero() {
		lo = opts.Since.UnixNano()
	}
	if !opts.Until.IsZero() {
		hi = opts.Until.UnixNano()
	}
	bw := bufio.NewWriter(w)
	counts := map[policy.Signal]int{}
	for _, sig := range signals {
		n, err := exportSignal(conn, sig, lo, hi, bw)
		if err != nil {
			return counts, fmt.Errorf("localstore: export %s of %s: %w", sig, tenant, err)
		}
		counts[sig] = n
	}
	if err := bw.Flush(); err != nil {
		return counts, err
	}
	detail := map[string]any{"actor": opts.Actor, "records": counts}
	if !opts.Since.IsZero() {
		detail["since"] = opts.Since.UTC().Format(time.RFC3339Nano)
	}
	if !opts.Until.IsZero() {
		detail["until"] = opts.Until.UTC().Format(time.RFC3339Nano)
	}
	return counts, s.Audit(tenant, "export", detail, policyVersion)
}

// sqlExportRows selects cols of table's rows in [?1, ?2), in id order:
// the window's ids first, sorted, then each row by its id. With the time
// range and ORDER BY id on the rows themselves SQLite walks the time
// index and sorts the whole rows in memory (temp_store is memory), each
// with its resource's JSON until the last is read, and a window larger
// than the connection's memory made ncruces panic (a view's resource is
// stored once, so one resource of a few MiB on many rows is cheap to
// store and not to sort).
func sqlExportRows(table, cols string) string {
	return `SELECT ` + cols + ` FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table +
		` WHERE time_unix_nano >= ?1 AND time_unix_nano < ?2) ORDER BY id`
}

// exportSignal streams one signal's rows, in id order, into requests of
// exportBatch records; consecutive rows with the same resource and scope
// share them.
func exportSignal(conn *sqlite3.Conn, sig policy.Signal, lo, hi int64, w io.Writer) (int, error) {
	table := tables[string(sig)]
	cols := "*"
	// A row's lineage column names its request's lineage row; the export
	// carries the request's id. A store no Tenancy with lineage wrote to
	// has neither.
	if has, err := hasColumn(conn, table, lineageColumn); err != nil {
		return 0, err
	} else if has {
		cols = "*, (SELECT lineage_id FROM lineage WHERE lineage.id = " + table + ".lineage) AS lineage_id"
	}
	st, _, err := conn.Prepare(sqlExportRows(table, cols))
	if err != nil {
		return 0, err
	}
	defer st.Close()
	_ = st.BindInt64(1, lo)
	_ = st.BindInt64(2, hi)
	colIndex := map[string]int{}
	for i := 0; i < st.ColumnCount(); i++ {
		colIndex[st.ColumnName(i)] = i
	}
	e := newExporter(sig)
	total := 0
	for st.Step() {
		if err := e.add(st, colIndex); err != nil {
			return total, err
		}
		total++
		if e.n == exportBatch {
			if err := e.flush(w); err != nil {
				return total, err
			}
		}
	}
	if err := st.Err(); err != nil {
		return total, err
	}
	return total, e.flush(w)
}

type exporter struct {
	sig          policy.Signal
	logs         plog.Logs
	metrics      pmetric.Metrics
	traces       ptrace.Traces
	res, scope   string
	lineage      string
	n            int
	scopeLogs    plog.LogRecordSlice
	scopeMetrics pmetric.MetricSlice
	scopeSpans   ptrace.SpanSlice
}

func newExporter(sig policy.Signal) *exporter {
	e := &exporter{sig: sig}
	e.reset()
	return e
}

func (e *exporter) reset() {
	e.logs, e.metrics, e.traces = plog.NewLogs(), pmetric.NewMetrics(), ptrace.NewTraces()
	e.res, e.scope, e.lineage, e.n = "\x00", "\x00", "\x00", 0
}

// group starts a new resource and scope when the row's differ from the
// last row's. A row's lineage id goes back on its resource as a
// tenant.lineage of the id alone (the request's facts stay in the lineage
// table), so rows of different requests never share one.
func (e *exporter) group(res, scope, lineage string) error {
	if res == e.res && scope == e.scope && lineage == e.lineage {
		return nil
	}
	newRes := res != e.res || lineage != e.lineage
	e.res, e.scope, e.lineage = res, scope, lineage
	var attrs pcommon.Map
	switch e.sig {
	case policy.SignalLogs:
		if newRes {
			attrs = e.logs.ResourceLogs().AppendEmpty().Resource().Attributes()
		}
		rl := e.logs.ResourceLogs().At(e.logs.ResourceLogs().Len() - 1)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(scope)
		e.scopeLogs = sl.LogRecords()
	case policy.SignalMetrics:
		if newRes {
			attrs = e.metrics.ResourceMetrics().AppendEmpty().Resource().Attributes()
		}
		rm := e.metrics.ResourceMetrics().At(e.metrics.ResourceMetrics().Len() - 1)
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scope)
		e.scopeMetrics = sm.Metrics()
	case policy.SignalTraces:
		if newRes {
			attrs = e.traces.ResourceSpans().AppendEmpty().Resource().Attributes()
		}
		rs := e.traces.ResourceSpans().At(e.traces.ResourceSpans().Len() - 1)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(scope)
		e.scopeSpans = ss.Spans()
	}
	if newRes {
		if err := parseMap(res, attrs); err != nil {
			return err
		}
		if lineage != "" {
			attrs.PutStr(identity.AttrLineage, identity.Lineage{ID: lineage}.Encode())
		}
	}
	return nil
}

func text(st *sqlite3.Stmt, cols map[string]int, name string) string {
	return st.ColumnText(cols[name])
}
func integer(st *sqlite3.Stmt, cols map[string]int, name string) int64 {
	return st.ColumnInt64(cols[name])
}
func isNull(st *sqlite3.Stmt, cols map[string]int, name string) bool {
	return st.ColumnType(cols[name]) == sqlite3.NULL
}
func ts(st *sqlite3.Stmt, cols map[string]int, name string) pcommon.Timestamp {
	return pcommon.Timestamp(uint64(integer(st, cols, name)))
}

func (e *exporter) add(st *sqlite3.Stmt, cols map[string]int) error {
	lineage := ""
	if i, ok := cols["lineage_id"]; ok {
		lineage = st.ColumnText(i)
	}
	if err := e.group(text(st, cols, "resource"), text(st, cols, "scope_name"), lineage); err != nil {
		return err
	}
	e.n++
	switch e.sig {
	case policy.SignalLogs:
		lr := e.scopeLogs.AppendEmpty()
		lr.SetTimestamp(ts(st, cols, "time_unix_nano"))
		lr.SetObservedTimestamp(ts(st, cols, "observed_unix_nano"))
		lr.SetSeverityNumber(plog.SeverityNumber(integer(st, cols, "severity_number")))
		lr.SetSeverityText(text(st, cols, "severity_text"))
		if !isNull(st, cols, "body") {
			lr.Body().SetStr(text(st, cols, "body"))
		}
		if tid, ok := traceID(text(st, cols, "trace_id")); ok {
			lr.SetTraceID(tid)
		}
		if sid, ok := spanID(text(st, cols, "span_id")); ok {
			lr.SetSpanID(sid)
		}
		return parseMap(text(st, cols, "attrs"), lr.Attributes())
	case policy.SignalTraces:
		sp := e.scopeSpans.AppendEmpty()
		sp.SetStartTimestamp(ts(st, cols, "time_unix_nano"))
		sp.SetEndTimestamp(ts(st, cols, "end_unix_nano"))
		if tid, ok := traceID(text(st, cols, "trace_id")); ok {
			sp.SetTraceID(tid)
		}
		if sid, ok := spanID(text(st, cols, "span_id")); ok {
			sp.SetSpanID(sid)
		}
		if sid, ok := spanID(text(st, cols, "parent_span_id")); ok {
			sp.SetParentSpanID(sid)
		}
		sp.SetName(text(st, cols, "name"))
		sp.SetKind(spanKinds[text(st, cols, "kind")])
		sp.Status().SetCode(statusCodes[text(st, cols, "status_code")])
		sp.Status().SetMessage(text(st, cols, "status_message"))
		if !isNull(st, cols, "events") {
			if err := parseEvents(text(st, cols, "events"), sp.Events()); err != nil {
				return err
			}
		}
		return parseMap(text(st, cols, "attrs"), sp.Attributes())
	}
	return e.addPoint(st, cols)
}

var (
	spanKinds   = map[string]ptrace.SpanKind{}
	statusCodes = map[string]ptrace.StatusCode{}
)

func init() {
	for k := ptrace.SpanKindUnspecified; k <= ptrace.SpanKindConsumer; k++ {
		spanKinds[k.String()] = k
	}
	for c := ptrace.StatusCodeUnset; c <= ptrace.StatusCodeError; c++ {
		statusCodes[c.String()] = c
	}
}

func traceID(h string) (pcommon.TraceID, bool) {
	var id pcommon.TraceID
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

func spanID(h string) (pcommon.SpanID, bool) {
	var id pcommon.SpanID
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != len(id) {
		return id, false
	}
	copy(id[:], b)
	return id, true
}

// addPoint adds a data point as one metric of its own: the store keeps a
// row per point, and one metric per point stores back the same rows.
func (e *exporter) addPoint(st *sqlite3.Stmt, cols map[string]int) error {
	m := e.scopeMetrics.AppendEmpty()
	m.SetName(text(st, cols, "metric_name"))
	m.SetUnit(text(st, cols, "unit"))
	t, start := ts(st, cols, "time_unix_nano"), ts(st, cols, "start_time_unix_nano")
	attrs := text(st, cols, "attrs")
	value := func(dp pmetric.NumberDataPoint) {
		if isNull(st, cols, "value") {
			dp.SetDoubleValue(math.NaN())
		} else {
			dp.SetDoubleValue(st.ColumnFloat(cols["value"]))
		}
	}
	sum := func() float64 {
		if isNull(st, cols, "sum") {
			return math.NaN()
		}
		return st.ColumnFloat(cols["sum"])
	}
	var detail struct {
		Bounds    []jsonFloat `json:"bounds"`
		Counts    []uint64    `json:"counts"`
		Scale     int32       `json:"scale"`
		ZeroCount uint64      `json:"zero_count"`
		Positive  struct {
			Offset int32    `json:"offset"`
			Counts []uint64 `json:"counts"`
		} `json:"positive"`
		Negative struct {
			Offset int32    `json:"offset"`
			Counts []uint64 `json:"counts"`
		} `json:"negative"`
		Quantiles []struct {
			Quantile jsonFloat `json:"quantile"`
			Value    jsonFloat `json:"value"`
		} `json:"quantiles"`
	}
	if !isNull(st, cols, "detail") {
		if err := json.Unmarshal([]byte(text(st, cols, "detail")), &detail); err != nil {
			return fmt.Errorf("data point %d detail: %w", integer(st, cols, "id"), err)
		}
	}
	count := uint64(integer(st, cols, "count"))
	var dpAttrs pcommon.Map
	switch text(st, cols, "metric_type") {
	case pmetric.MetricTypeGauge.String():
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(t)
		dp.SetStartTimestamp(start)
		value(dp)
		dpAttrs = dp.Attributes()
	case pmetric.MetricTypeSum.String():
		dp := m.SetEmptySum().DataPoints().AppendEmpty()
		dp.SetTimestamp(t)
		dp.SetStartTimestamp(start)
		value(dp)
		dpAttrs = dp.Attributes()
	case pmetric.MetricTypeHistogram.String():
		dp := m.SetEmptyHistogram().DataPoints().AppendEmpty()
		dp.SetTimestamp(t)
		dp.SetStartTimestamp(start)
		dp.SetCount(count)
		dp.SetSum(sum())
		for _, b := range detail.Bounds {
			dp.ExplicitBounds().Append(float64(b))
		}
		dp.BucketCounts().FromRaw(detail.Counts)
		dpAttrs = dp.Attributes()
	case pmetric.MetricTypeExponentialHistogram.String():
		dp := m.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
		dp.SetTimestamp(t)
		dp.SetStartTimestamp(start)
		dp.SetCount(count)
		dp.SetSum(sum())
		dp.SetScale(detail.Scale)
		dp.SetZeroCount(detail.ZeroCount)
		dp.Positive().SetOffset(detail.Positive.Offset)
		dp.Positive().BucketCounts().FromRaw(detail.Positive.Counts)
		dp.Negative().SetOffset(detail.Negative.Offset)
		dp.Negative().BucketCounts().FromRaw(detail.Negative.Counts)
		dpAttrs = dp.Attributes()
	case pmetric.MetricTypeSummary.String():
		dp := m.SetEmptySummary().DataPoints().AppendEmpty()
		dp.SetTimestamp(t)
		dp.SetStartTimestamp(start)
		dp.SetCount(count)
		dp.SetSum(sum())
		for _, q := range detail.Quantiles {
			qv := dp.QuantileValues().AppendEmpty()
			qv.SetQuantile(float64(q.Quantile))
			qv.SetValue(float64(q.Value))
		}
		dpAttrs = dp.Attributes()
	default:
		return fmt.Errorf("data point %d: metric type %q", integer(st, cols, "id"), text(st, cols, "metric_type"))
	}
	return parseMap(attrs, dpAttrs)
}

// jsonFloat reads a number or the strings "NaN", "+Inf", "-Inf" the store
// writes for them.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseFloat(s, 64)
	*f = jsonFloat(v)
	return err
}

func (e *exporter) flush(w io.Writer) error {
	if e.n == 0 {
		return nil
	}
	var b []byte
	var err error
	switch e.sig {
	case policy.SignalLogs:
		b, err = (&plog.JSONMarshaler{}).MarshalLogs(e.logs)
	case policy.SignalMetrics:
		b, err = (&pmetric.JSONMarshaler{}).MarshalMetrics(e.metrics)
	case policy.SignalTraces:
		b, err = (&ptrace.JSONMarshaler{}).MarshalTraces(e.traces)
	}
	if err != nil {
		return err
	}
	e.reset()
	if _, err := w.Write(append(b, '\n')); err != nil {
		return err
	}
	return nil
}

// parseMap fills m from a JSON object the store wrote (attrsJSON), keys in
// their order: integers become ints, other numbers doubles, so stored
// again the object is written as it was.
func parseMap(s string, m pcommon.Map) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v := pcommon.NewValueMap()
	if err := parseValue(dec, v); err != nil {
		return fmt.Errorf("attributes %.80q: %w", s, err)
	}
	if v.Type() != pcommon.ValueTypeMap {
		return fmt.Errorf("attributes %.80q: not an object", s)
	}
	v.Map().MoveTo(m)
	return nil
}

func parseValue(dec *json.Decoder, v pcommon.Value) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := v.SetEmptyMap()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if err := parseValue(dec, m.PutEmpty(k.(string))); err != nil {
					return err
				}
			}
		case '[':
			sl := v.SetEmptySlice()
			for dec.More() {
				if err := parseValue(dec, sl.AppendEmpty()); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // the closing delimiter
		return err
	case string:
		v.SetStr(x)
	case json.Number:
		if i, err := x.Int64(); err == nil && !strings.ContainsAny(x.String(), ".eE") {
			v.SetInt(i)
		} else {
			f, err := x.Float64()
			if err != nil {
				return err
			}
			v.SetDouble(f)
		}
	case bool:
		v.SetBool(x)
	}
	return nil
}

// parseEvents fills a span's events from the events column.
func parseEvents(s string, evs ptrace.SpanEventSlice) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v := pcommon.NewValueEmpty()
	if err := parseValue(dec, v); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	for _, ev := range v.Slice().All() {
		m := ev.Map()
		out := evs.AppendEmpty()
		if t, ok := m.Get("time_unix_nano"); ok {
			out.SetTimestamp(pcommon.Timestamp(uint64(t.Int())))
		}
		if n, ok := m.Get("name"); ok {
			out.SetName(n.Str())
		}
		if a, ok := m.Get("attrs"); ok && a.Type() == pcommon.ValueTypeMap {
			a.Map().CopyTo(out.Attributes())
		}
	}
	return nil
}
