package isolation_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Where a record must end up.
type dest uint8

const (
	destSender     dest = iota // its sender's store
	destQuarantine             // _quarantine, attributed to its sender
)

// resourceExp is what the pipeline must do with one resource's records.
type resourceExp struct {
	sender int
	dest   dest
	reason string   // tenant.quarantine.reason when quarantined
	claims []string // string claims tenant.claimed must keep; nil when not checkable
}

// recordExp is one record (log record, data point or span) sent.
type recordExp struct {
	res *resourceExp
	// expired: every timestamp of the record is older than any retention,
	// so the retention processor must drop it.
	expired bool
	signal  string
	req     *reqOutcome
}

// reqOutcome is what the caller of one request saw.
type reqOutcome struct{ err error }

// seqKey is the record attribute that tags each record with its sequence
// number. A number: nothing in the pipeline redacts it.
const seqKey = "probe.seq"

// forged marks every value the test writes under a client tenant.* key
// (other than tenant.id claims, and inside bodies): it must never be stored.
const forged = "FORGED"

// forgedCount is a forged tenant.redaction.count or .records.
const forgedCount = 987654321

// oldTime is older than any retention: records stamped with it are dropped.
const oldTime = pcommon.Timestamp(1_000_000_000) // 1970-01-01T00:00:01Z

// gen builds one block of hostile requests from one sender.
type gen struct {
	r      *rand.Rand
	w      *world
	sender int
	now    time.Time
	seq    int64
	// dups counts the repeated keys written under a placeholder name in
	// the current request: they become real repeats in a JSON round trip.
	dups int
	// huge is how many huge strings the current request may still carry.
	huge int
	recs []struct {
		seq int64
		exp *recordExp
	}
	req *reqOutcome
}

// dupPrefix names the second and later copies of a key until the JSON
// round trip renames them back: pcommon.Map cannot hold a key twice, OTLP
// (and pdata decoding it) can.
var dupRe = regexp.MustCompile(`"~dup~\d+~`)

func (g *gen) other() int {
	for {
		if i := g.r.IntN(len(g.w.tenants)); i != g.sender {
			return i
		}
	}
}

func (g *gen) coin(n int) bool { return g.r.IntN(n) == 0 }

func (g *gen) pick(s ...string) string { return s[g.r.IntN(len(s))] }

// ident returns one of tenant i's identifiers in a random ASCII case.
func (g *gen) ident(i int) string {
	id := g.w.tenants[i].idents[g.r.IntN(2)]
	switch g.r.IntN(4) {
	case 0:
		return strings.ToUpper(id)
	case 1:
		return strings.ToUpper(id[:1]) + id[1:]
	}
	return id
}

// foreignText holds another tenant's identifier in a realistic place.
func (g *gen) foreignText() string {
	o := g.other()
	id := g.w.tenants[o].id
	switch g.r.IntN(6) {
	case 0:
		return "refund for bob@" + id + ".example done"
	case 1:
		return fmt.Sprintf("key=ak_%s_%x", id, g.r.Uint32())
	case 2:
		return "GET https://api." + id + ".example/v1/orders?x=1"
	case 3:
		return `{"user":"u@` + id + `.example","k":"AK_` + strings.ToUpper(id) + `_77"}`
	case 4:
		return g.ident(o)
	}
	return "note " + g.ident(o) + " ; " + g.ident(g.other())
}

// text is any string a client could send.
func (g *gen) text() string {
	switch g.r.IntN(12) {
	case 0:
		return ""
	case 1, 2, 3:
		return g.foreignText()
	case 4:
		return "own " + g.ident(g.sender) + " stays"
	case 5:
		return "héllo wörld ✓ 世界 \u212a"
	case 6:
		return g.w.tenants[g.other()].id // a bare tenant id is not an identifier
	case 7:
		return "ctl \x00\x01\t\n\"\\ end"
	case 8:
		if g.huge > 0 {
			g.huge--
			return strings.Repeat("lorem ipsum ", 5000+g.r.IntN(20000)) + g.foreignText()
		}
	}
	return g.pick("GET /orders", "order paid", "db.query", "x", "checkout", "cart-42")
}

func (g *gen) double() float64 {
	switch g.r.IntN(8) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.Copysign(0, -1)
	case 4:
		return math.MaxFloat64
	}
	return g.r.NormFloat64() * 1e3
}

// timestamp is a timestamp that must not expire the record: none, recent,
// slightly or absurdly in the future, or past what int64 holds.
func (g *gen) timestamp() pcommon.Timestamp {
	switch g.r.IntN(8) {
	case 0:
		return 0
	case 1:
		return pcommon.Timestamp(math.MaxUint64)
	case 2:
		return pcommon.Timestamp(1<<63 + g.r.Uint64N(1<<62))
	case 3:
		return pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
	case 4:
		return pcommon.Timestamp(math.MaxInt64)
	case 5:
		return pcommon.NewTimestampFromTime(g.now.Add(time.Duration(g.r.Int64N(int64(10 * time.Minute)))))
	}
	return pcommon.NewTimestampFromTime(g.now.Add(-time.Duration(g.r.Int64N(int64(time.Hour)))))
}

// kv is one entry to write into a map; entries are shuffled, and a key
// written twice becomes a repeated key.
type kv struct {
	key string
	set func(pcommon.Value)
}

func (g *gen) fill(m pcommon.Map, entries []kv) {
	g.r.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		k := e.key
		if seen[k] {
			k = fmt.Sprintf("~dup~%d~%s", g.dups, k)
			g.dups++
		}
		seen[e.key] = true
		e.set(m.PutEmpty(k))
	}
}

// Where a map sits, for the tenant.* keys a client may try there.
type level uint8

const (
	levelResource level = iota
	levelBelow          // scope, record, span, event, link, data point, exemplar
	levelBody           // a body's maps: the client's content, redacted, never stripped
)

func str(s string) func(pcommon.Value) { return func(v pcommon.Value) { v.SetStr(s) } }

// value writes any value a client could send, nesting at most 3 deep.
func (g *gen) value(v pcommon.Value, depth int, lv level) {
	switch g.r.IntN(12) {
	case 0, 1, 2, 3:
		v.SetStr(g.text())
	case 4:
		v.SetInt(g.r.Int64() - g.r.Int64())
	case 5:
		v.SetDouble(g.double())
	case 6:
		v.SetBool(g.coin(2))
	case 7:
		if g.coin(3) {
			b := make([]byte, 1+g.r.IntN(40))
			for i := range b {
				b[i] = byte(g.r.Uint32())
			}
			v.SetEmptyBytes().FromRaw(b)
		} else {
			v.SetEmptyBytes().FromRaw([]byte(g.foreignText())) // valid UTF-8: must be scanned
		}
	case 8, 9:
		if depth < 3 {
			g.attrs(v.SetEmptyMap(), depth+1, lv)
			return
		}
		v.SetStr(g.foreignText())
	case 10:
		s := v.SetEmptySlice()
		for range g.r.IntN(4) {
			g.value(s.AppendEmpty(), depth+1, lv)
		}
	case 11:
		// left empty
	}
}

var plainKeys = []string{"k", "user", "http.url", "message", "db.statement", "a.b", "", "ünï", "Tenant.ID"}

// forgedEntries are tenant.* keys a client writes to pass for the
// pipeline's own: every value carries the forged marker, except in a body,
// where they are content holding foreign identifiers.
func (g *gen) forgedEntries(lv level) []kv {
	keys := []string{
		identity.AttrRedactionCount, identity.AttrRedactionRecords, identity.AttrRedactionClasses, identity.AttrRedactionPolicyVersion,
		"tenant.redaction.note", identity.AttrFingerprint, identity.AttrQuarantineReason, identity.AttrClaimed,
		identity.AttrAuthenticated, identity.AttrCredential, identity.AttrSource, "tenant.retention",
		"tenant.retention.expired", "tenant.retention.original_time", "tenant.residency", "tenant.id ", "tenant.",
	}
	if lv != levelResource {
		keys = append(keys, identity.AttrTenantID)
	}
	var out []kv
	for range g.r.IntN(4) {
		k := keys[g.r.IntN(len(keys))]
		switch {
		case lv == levelBody || k == identity.AttrTenantID:
			other := g.other()
			out = append(out, kv{k, str(g.w.tenants[other].id + " " + g.ident(other))})
		case (k == identity.AttrRedactionCount || k == identity.AttrRedactionRecords) && g.coin(2):
			out = append(out, kv{k, func(v pcommon.Value) { v.SetInt(forgedCount) }})
		case g.coin(4):
			// a nested map under a tenant.* key
			other := g.other()
			out = append(out, kv{k, func(v pcommon.Value) {
				m := v.SetEmptyMap()
				m.PutStr("note", forged+" "+g.ident(other))
				m.PutStr(identity.AttrTenantID, g.w.tenants[other].id)
			}})
		default:
			out = append(out, kv{k, str(forged + " " + g.foreignText())})
		}
	}
	return out
}

// attrs fills m with plain keys (some repeated, some holding another
// tenant's identifier), nested values and forged tenant.* keys.
func (g *gen) attrs(m pcommon.Map, depth int, lv level, extra ...kv) {
	entries := extra
	for range g.r.IntN(5) {
		k := plainKeys[g.r.IntN(len(plainKeys))]
		if g.coin(10) {
			k = "user@" + g.w.tenants[g.other()].id + ".example" // a key holding an identifier
		}
		entries = append(entries, kv{k, func(v pcommon.Value) { g.value(v, depth, lv) }})
	}
	if g.coin(3) {
		k := plainKeys[g.r.IntN(len(plainKeys))]
		for range 2 + g.r.IntN(2) {
			entries = append(entries, kv{k, func(v pcommon.Value) { g.value(v, depth, lv) }})
		}
	}
	if g.coin(2) {
		entries = append(entries, g.forgedEntries(lv)...)
	}
	g.fill(m, entries)
}

// resource writes a resource and decides, from the claims written in it,
// where its records must go.
func (g *gen) resource(m pcommon.Map) *resourceExp {
	exp := &resourceExp{sender: g.sender}
	sender := g.w.tenants[g.sender]
	var claims []kv
	var strs []string
	nonString := false
	claimStr := func(s string) {
		claims = append(claims, kv{identity.AttrTenantID, str(s)})
		strs = append(strs, s)
	}
	other := g.w.tenants[g.other()].id
	switch g.r.IntN(10) {
	case 0, 1, 2: // no claim
	case 3:
		claimStr(sender.id)
	case 4:
		claimStr(other)
	case 5: // repeated: the attack of issue 11
		for _, s := range [][]string{{other, sender.id}, {sender.id, other}, {sender.id, sender.id}, {other, other}}[g.r.IntN(4)] {
			claimStr(s)
		}
	case 6:
		for range 3 {
			claimStr(g.pick(sender.id, other))
		}
	case 7: // not a string
		nonString = true
		claims = append(claims, kv{identity.AttrTenantID, func(v pcommon.Value) {
			switch g.r.IntN(5) {
			case 0:
				v.SetInt(7)
			case 1:
				v.SetEmptyBytes().FromRaw([]byte(sender.id))
			case 2:
				v.SetEmptyMap().PutStr(identity.AttrTenantID, sender.id)
			case 3:
				v.SetEmptySlice().AppendEmpty().SetStr(sender.id)
			}
		}})
		if g.coin(2) {
			claimStr(sender.id)
		}
	case 8: // not a tenant, or a reserved one
		claimStr(g.pick("", "../x", policy.Quarantine, policy.Governance, "a/b", strings.Repeat("x", 200), other+".example", "_x"))
	case 9: // own claim, and another tenant's nested below it
		claimStr(sender.id)
		claims = append(claims, kv{"ctx", func(v pcommon.Value) { v.SetEmptyMap().PutStr(identity.AttrTenantID, other) }})
	}
	n := 0
	for _, c := range claims {
		if c.key == identity.AttrTenantID {
			n++
		}
	}
	switch {
	case n > 1 || nonString:
		exp.dest, exp.reason = destQuarantine, "malformed"
	case n == 1 && strs[0] != sender.id:
		exp.dest, exp.reason = destQuarantine, "spoofed"
	case sender.suspended:
		exp.dest, exp.reason = destQuarantine, "suspended"
	}
	if !nonString && len(strings.Join(strs, ",")) <= identity.MaxClaimed {
		exp.claims = strs
	}
	extra := append(claims, kv{"service.name", str(g.pick("shop", "billing", g.foreignText()))})
	g.attrs(m, 0, levelResource, extra...)
	if g.coin(2) {
		g.fill(m, g.forgedEntries(levelResource)) // tenant.* on top of any already there
	}
	return exp
}

// record registers one record: its attributes get the sequence tag.
func (g *gen) record(attrs pcommon.Map, res *resourceExp, expired bool, signal string) {
	g.seq++
	attrs.PutInt(seqKey, g.seq)
	g.recs = append(g.recs, struct {
		seq int64
		exp *recordExp
	}{g.seq, &recordExp{res: res, expired: expired, signal: signal, req: g.req}})
}

func (g *gen) scope(s pcommon.InstrumentationScope) {
	s.SetName(g.text())
	s.SetVersion(g.text())
	g.attrs(s.Attributes(), 0, levelBelow)
}

func (g *gen) traceID() pcommon.TraceID {
	var id pcommon.TraceID
	if !g.coin(4) {
		for i := range id {
			id[i] = byte(g.r.Uint32())
		}
	}
	return id
}

func (g *gen) spanID() pcommon.SpanID {
	var id pcommon.SpanID
	if !g.coin(4) {
		for i := range id {
			id[i] = byte(g.r.Uint32())
		}
	}
	return id
}

// shape is how many resources, scopes and records a request holds.
func (g *gen) shape() (resources, scopes, records int) {
	return 1 + g.r.IntN(2), 1 + g.r.IntN(4)/3, 1 + g.r.IntN(3)
}

func (g *gen) logs() plog.Logs {
	ld := plog.NewLogs()
	nr, ns, nl := g.shape()
	for range nr {
		rl := ld.ResourceLogs().AppendEmpty()
		res := g.resource(rl.Resource().Attributes())
		for range ns {
			sl := rl.ScopeLogs().AppendEmpty()
			g.scope(sl.Scope())
			for range nl {
				lr := sl.LogRecords().AppendEmpty()
				expired := g.coin(10)
				if expired {
					lr.SetTimestamp(oldTime)
					lr.SetObservedTimestamp(oldTime)
				} else {
					lr.SetTimestamp(g.timestamp())
					lr.SetObservedTimestamp(g.timestamp())
				}
				lr.SetSeverityNumber(plog.SeverityNumber(g.r.IntN(26)))
				lr.SetSeverityText(g.text())
				lr.SetEventName(g.text())
				lr.SetTraceID(g.traceID())
				lr.SetSpanID(g.spanID())
				g.value(lr.Body(), 0, levelBody)
				g.attrs(lr.Attributes(), 0, levelBelow)
				g.record(lr.Attributes(), res, expired, "logs")
			}
		}
	}
	return ld
}

func (g *gen) traces() ptrace.Traces {
	td := ptrace.NewTraces()
	nr, ns, nsp := g.shape()
	for range nr {
		rs := td.ResourceSpans().AppendEmpty()
		res := g.resource(rs.Resource().Attributes())
		for range ns {
			ss := rs.ScopeSpans().AppendEmpty()
			g.scope(ss.Scope())
			for range nsp {
				sp := ss.Spans().AppendEmpty()
				expired := g.coin(10)
				if expired {
					sp.SetStartTimestamp(oldTime)
					sp.SetEndTimestamp(oldTime)
				} else {
					sp.SetStartTimestamp(g.timestamp())
					sp.SetEndTimestamp(g.timestamp())
				}
				sp.SetTraceID(g.traceID())
				sp.SetSpanID(g.spanID())
				sp.SetParentSpanID(g.spanID())
				sp.SetName(g.text())
				sp.SetKind(ptrace.SpanKind(g.r.IntN(7)))
				sp.Status().SetCode(ptrace.StatusCode(g.r.IntN(4)))
				sp.Status().SetMessage(g.text())
				for range g.r.IntN(3) {
					ev := sp.Events().AppendEmpty()
					ev.SetName(g.text())
					ev.SetTimestamp(g.timestamp())
					g.attrs(ev.Attributes(), 0, levelBelow)
				}
				for range g.r.IntN(2) {
					l := sp.Links().AppendEmpty()
					l.SetTraceID(g.traceID())
					l.SetSpanID(g.spanID())
					l.TraceState().FromRaw(g.text())
					g.attrs(l.Attributes(), 0, levelBelow)
				}
				g.attrs(sp.Attributes(), 0, levelBelow)
				g.record(sp.Attributes(), res, expired, "traces")
			}
		}
	}
	return td
}

func (g *gen) metrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	nr, ns, nm := g.shape()
	for range nr {
		rm := md.ResourceMetrics().AppendEmpty()
		res := g.resource(rm.Resource().Attributes())
		for range ns {
			sm := rm.ScopeMetrics().AppendEmpty()
			g.scope(sm.Scope())
			for range nm {
				m := sm.Metrics().AppendEmpty()
				m.SetName(g.pick("http.requests", "queue.depth", g.text()))
				m.SetDescription(g.text())
				m.SetUnit(g.pick("1", "ms", g.text()))
				g.attrs(m.Metadata(), 0, levelBelow)
				g.dataPoints(m, res)
			}
		}
	}
	return md
}

// point sets the common fields of a data point and registers it.
func (g *gen) point(ts, start func(pcommon.Timestamp), attrs pcommon.Map, exemplars *pmetric.ExemplarSlice, res *resourceExp) {
	expired := g.coin(10)
	if expired {
		ts(oldTime)
		start(oldTime)
	} else {
		ts(g.timestamp())
		start(g.timestamp())
	}
	g.attrs(attrs, 0, levelBelow)
	if exemplars != nil {
		for range g.r.IntN(2) {
			ex := exemplars.AppendEmpty()
			ex.SetDoubleValue(g.double())
			ex.SetTimestamp(g.timestamp())
			g.attrs(ex.FilteredAttributes(), 0, levelBelow)
		}
	}
	g.record(attrs, res, expired, "metrics")
}

func (g *gen) number(dp pmetric.NumberDataPoint, res *resourceExp) {
	if g.coin(2) {
		dp.SetIntValue(g.r.Int64())
	} else {
		dp.SetDoubleValue(g.double())
	}
	ex := dp.Exemplars()
	g.point(dp.SetTimestamp, dp.SetStartTimestamp, dp.Attributes(), &ex, res)
}

func (g *gen) dataPoints(m pmetric.Metric, res *resourceExp) {
	n := 1 + g.r.IntN(2)
	switch g.r.IntN(5) {
	case 0:
		dps := m.SetEmptyGauge().DataPoints()
		for range n {
			g.number(dps.AppendEmpty(), res)
		}
	case 1:
		s := m.SetEmptySum()
		s.SetIsMonotonic(g.coin(2))
		s.SetAggregationTemporality(pmetric.AggregationTemporality(g.r.IntN(3)))
		for range n {
			g.number(s.DataPoints().AppendEmpty(), res)
		}
	case 2:
		dps := m.SetEmptyHistogram().DataPoints()
		for range n {
			dp := dps.AppendEmpty()
			dp.SetCount(g.r.Uint64())
			dp.SetSum(g.double())
			dp.ExplicitBounds().FromRaw([]float64{1, g.double(), math.Inf(1)})
			dp.BucketCounts().FromRaw([]uint64{1, 2, 3, math.MaxUint64})
			ex := dp.Exemplars()
			g.point(dp.SetTimestamp, dp.SetStartTimestamp, dp.Attributes(), &ex, res)
		}
	case 3:
		dps := m.SetEmptyExponentialHistogram().DataPoints()
		for range n {
			dp := dps.AppendEmpty()
			dp.SetScale(int32(g.r.IntN(40)) - 20)
			dp.SetCount(g.r.Uint64())
			dp.SetSum(g.double())
			dp.SetZeroCount(math.MaxUint64)
			dp.Positive().SetOffset(math.MinInt32)
			dp.Positive().BucketCounts().FromRaw([]uint64{1, math.MaxUint64})
			ex := dp.Exemplars()
			g.point(dp.SetTimestamp, dp.SetStartTimestamp, dp.Attributes(), &ex, res)
		}
	case 4:
		dps := m.SetEmptySummary().DataPoints()
		for range n {
			dp := dps.AppendEmpty()
			dp.SetCount(g.r.Uint64())
			dp.SetSum(g.double())
			q := dp.QuantileValues().AppendEmpty()
			q.SetQuantile(g.double())
			q.SetValue(g.double())
			g.point(dp.SetTimestamp, dp.SetStartTimestamp, dp.Attributes(), nil, res)
		}
	}
}

// request is one hostile request of a signal, its repeated keys made real
// by an OTLP/JSON round trip (pdata's decoder keeps every copy of a key).
type request struct {
	signal  string
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
}

func (g *gen) request(signal string) (request, error) {
	g.dups, g.huge = 0, 0
	if g.coin(200) {
		g.huge = 1
	}
	rq := request{signal: signal}
	switch signal {
	case "logs":
		rq.logs = g.logs()
		if g.dups > 0 {
			b, err := (&plog.JSONMarshaler{}).MarshalLogs(rq.logs)
			if err != nil {
				return rq, err
			}
			rq.logs, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(dupRe.ReplaceAll(b, []byte(`"`)))
			return rq, err
		}
	case "metrics":
		rq.metrics = g.metrics()
		if g.dups > 0 {
			b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(rq.metrics)
			if err != nil {
				return rq, err
			}
			rq.metrics, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(dupRe.ReplaceAll(b, []byte(`"`)))
			return rq, err
		}
	case "traces":
		rq.traces = g.traces()
		if g.dups > 0 {
			b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(rq.traces)
			if err != nil {
				return rq, err
			}
			rq.traces, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(dupRe.ReplaceAll(b, []byte(`"`)))
			return rq, err
		}
	}
	return rq, nil
}

// clone is a fresh copy to send: the pipeline changes what it is given,
// and a retry must send what the client sent.
func (rq request) clone() request {
	c := request{signal: rq.signal}
	switch rq.signal {
	case "logs":
		c.logs = plog.NewLogs()
		rq.logs.CopyTo(c.logs)
	case "metrics":
		c.metrics = pmetric.NewMetrics()
		rq.metrics.CopyTo(c.metrics)
	case "traces":
		c.traces = ptrace.NewTraces()
		rq.traces.CopyTo(c.traces)
	}
	return c
}
