package localstore

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// putNonFinite gives m the three values JSON has no number for, beside a
// plain one, at the top and nested in a map and a slice.
func putNonFinite(m pcommon.Map) {
	m.PutStr("keep", "kept")
	m.PutDouble("nan", math.NaN())
	m.PutDouble("inf", math.Inf(1))
	m.PutDouble("ninf", math.Inf(-1))
	inner := m.PutEmptyMap("inner")
	inner.PutDouble("nan", math.NaN())
	inner.PutStr("keep", "kept")
	sl := m.PutEmptySlice("list")
	sl.AppendEmpty().SetDouble(math.Inf(-1))
	sl.AppendEmpty().SetInt(7)
}

const nonFiniteQuery = `json_extract(%[1]s, '$.keep'), json_extract(%[1]s, '$.nan'), json_extract(%[1]s, '$.inf'), json_extract(%[1]s, '$.ninf'),
 json_extract(%[1]s, '$.inner.nan'), json_extract(%[1]s, '$.inner.keep'), json_extract(%[1]s, '$.list[0]'), json_extract(%[1]s, '$.list[1]')`

var nonFiniteRow = []any{"kept", "NaN", "+Inf", "-Inf", "NaN", "kept", "-Inf", int64(7)}

func nonFiniteCols(col string) string { return fmt.Sprintf(nonFiniteQuery, col) }

// TestNonFiniteValuesEraseNothing: a NaN or ±Inf anywhere (resource,
// record, event, body, nested) is stored as a string and every other value
// beside it survives, in every JSON column of every signal.
func TestNonFiniteValuesEraseNothing(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()

	ld := logsWith("acme", now, "m")
	putNonFinite(ld.ResourceLogs().At(0).Resource().Attributes())
	lr := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	putNonFinite(lr.Attributes())
	putNonFinite(lr.Body().SetEmptyMap())
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	for _, col := range []string{"resource", "attrs", "body"} {
		rows := query(t, s, "acme", "SELECT "+nonFiniteCols(col)+" FROM logs")
		assert.Equal(t, [][]any{nonFiniteRow}, rows, col)
	}

	td := tracesWith("acme", now, "span")
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	putNonFinite(td.ResourceSpans().At(0).Resource().Attributes())
	putNonFinite(sp.Attributes())
	putNonFinite(sp.Events().At(0).Attributes())
	require.NoError(t, s.WriteTraces("acme", td, "v1"))
	for _, col := range []string{"resource", "attrs", "json_extract(events, '$[0].attrs')"} {
		rows := query(t, s, "acme", "SELECT "+nonFiniteCols(col)+" FROM spans")
		assert.Equal(t, [][]any{nonFiniteRow}, rows, col)
	}
	assert.Equal(t, [][]any{{"retry"}}, query(t, s, "acme", "SELECT json_extract(events, '$[0].name') FROM spans"))

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	putNonFinite(rm.Resource().Attributes())
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	sum := ms.AppendEmpty()
	sum.SetName("summary")
	sp0 := sum.SetEmptySummary().DataPoints().AppendEmpty()
	putNonFinite(sp0.Attributes())
	sp0.SetCount(0)
	q := sp0.QuantileValues().AppendEmpty()
	q.SetQuantile(0.99)
	q.SetValue(math.NaN()) // what a Prometheus summary reports with no observations
	h := ms.AppendEmpty()
	h.SetName("hist")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.ExplicitBounds().FromRaw([]float64{1, math.Inf(1)})
	hp.BucketCounts().FromRaw([]uint64{1, 2, 3})
	require.NoError(t, s.WriteMetrics("acme", md, "v1"))
	for _, col := range []string{"resource", "attrs"} {
		rows := query(t, s, "acme", "SELECT "+nonFiniteCols(col)+" FROM datapoints WHERE metric_name = 'summary'")
		assert.Equal(t, [][]any{nonFiniteRow}, rows, col)
	}
	assert.Equal(t, [][]any{{0.99, "NaN"}}, query(t, s, "acme",
		`SELECT json_extract(detail, '$.quantiles[0].quantile'), json_extract(detail, '$.quantiles[0].value') FROM datapoints WHERE metric_name = 'summary'`))
	assert.Equal(t, [][]any{{"+Inf", int64(3)}}, query(t, s, "acme",
		`SELECT json_extract(detail, '$.bounds[1]'), json_extract(detail, '$.counts[2]') FROM datapoints WHERE metric_name = 'hist'`))
}

// TestNonFiniteBodyScalar: a double body is text like the JSON strings.
func TestNonFiniteBodyScalar(t *testing.T) {
	s, _ := openStore(t)
	ld := logsWith("acme", time.Now(), "a", "b", "c")
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(0).Body().SetDouble(math.Inf(1))
	lrs.At(1).Body().SetDouble(math.NaN())
	lrs.At(2).Body().SetDouble(0.5)
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	assert.Equal(t, [][]any{{"+Inf"}, {"NaN"}, {"0.5"}}, query(t, s, "acme", "SELECT body FROM logs ORDER BY id"))
}

// randValue fills v with a random tree of attribute values, non-finite,
// huge and empty ones among them; depth bounds the nesting.
func randValue(r *rand.Rand, v pcommon.Value, depth int) {
	switch n := r.IntN(14); {
	case n == 0:
		// empty
	case n == 1:
		v.SetDouble([]float64{math.NaN(), math.Inf(1), math.Inf(-1)}[r.IntN(3)])
	case n == 2:
		v.SetDouble([]float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, 1e-7, 0, math.Copysign(0, -1)}[r.IntN(7)])
	case n == 3:
		v.SetDouble(r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20)))
	case n == 4:
		v.SetInt([]int64{math.MaxInt64, math.MinInt64, 0, -1}[r.IntN(4)])
	case n == 5:
		v.SetInt(r.Int64() - r.Int64())
	case n == 6:
		v.SetBool(r.IntN(2) == 0)
	case n == 7:
		v.SetStr("")
	case n == 8:
		v.SetStr(randString(r, r.IntN(5000)))
	case n == 9:
		v.SetEmptyBytes().FromRaw([]byte(randString(r, r.IntN(40))))
	case n < 12 && depth > 0:
		m := v.SetEmptyMap()
		if r.IntN(4) > 0 {
			randMap(r, m, depth-1)
		}
	case depth > 0:
		sl := v.SetEmptySlice()
		for range r.IntN(5) {
			randValue(r, sl.AppendEmpty(), depth-1)
		}
	default:
		v.SetStr(randString(r, r.IntN(20)))
	}
}

func randMap(r *rand.Rand, m pcommon.Map, depth int) {
	for range r.IntN(8) + 1 {
		randValue(r, m.PutEmpty(randString(r, r.IntN(12))), depth)
	}
}

// randString mixes ASCII, JSON's special characters, control bytes,
// multi-byte runes and invalid UTF-8.
func randString(r *rand.Rand, n int) string {
	pieces := []string{"a", "Z", "0", " ", `"`, `\`, "/", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "€", "😀", "\u2028", "\xff", "\xc3", "<", "&", "NaN", "+Inf"}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// wantJSON is what the stored JSON of v must decode to (with UseNumber):
// the value itself, non-finite doubles as their strings, bytes as base64,
// strings with invalid UTF-8 replaced as encoding/json does.
func wantJSON(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeEmpty:
		return nil
	case pcommon.ValueTypeStr:
		return validUTF8(v.Str())
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	case pcommon.ValueTypeDouble:
		f := v.Double()
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "+Inf"
		case math.IsInf(f, -1):
			return "-Inf"
		}
		return f
	case pcommon.ValueTypeBytes:
		return v.AsString()
	case pcommon.ValueTypeSlice:
		out := []any{}
		for _, e := range v.Slice().All() {
			out = append(out, wantJSON(e))
		}
		return out
	case pcommon.ValueTypeMap:
		out := map[string]any{}
		for k, e := range v.Map().All() {
			out[validUTF8(k)] = wantJSON(e)
		}
		return out
	}
	panic(v.Type())
}

// validUTF8 replaces each byte of invalid UTF-8, as encoding/json does.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// sameJSON compares a decoded value with wantJSON's, doubles by value.
func sameJSON(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case float64:
		n, ok := got.(json.Number)
		if !ok {
			t.Errorf("%s: got %#v, want the number %v", path, got, w)
			return
		}
		f, err := n.Float64()
		if err != nil || f != w {
			t.Errorf("%s: got %s, want %v", path, n, w)
		}
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %#v, want %d keys", path, got, len(w))
			return
		}
		for k, wv := range w {
			sameJSON(t, path+"."+strconv.Quote(k), wv, g[k])
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			t.Errorf("%s: got %#v, want %d elements", path, got, len(w))
			return
		}
		for i := range w {
			sameJSON(t, path+"["+strconv.Itoa(i)+"]", w[i], g[i])
		}
	default:
		if want != got {
			t.Errorf("%s: got %.80q, want %.80q", path, fmt.Sprint(got), fmt.Sprint(want))
		}
	}
}

// TestRandomAttributeTreesRoundTrip stores random attribute trees (NaN,
// ±Inf, huge, empty values, hostile strings, at any depth) as resource,
// record attributes and body, and reads every key back as it was written.
func TestRandomAttributeTreesRoundTrip(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	s, _ := openStore(t)
	const n = 200
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	randMap(r, rl.Resource().Attributes(), 4)
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for range n {
		lr := lrs.AppendEmpty()
		randMap(r, lr.Attributes(), 4)
		randMap(r, lr.Body().SetEmptyMap(), 4)
	}
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	res, err := s.Query(t.Context(), "acme", "SELECT resource, attrs, body FROM logs ORDER BY id", QueryOptions{}, "v1")
	require.NoError(t, err)
	require.Len(t, res.Rows, n)
	decode := func(col any) any {
		d := json.NewDecoder(strings.NewReader(col.(string)))
		d.UseNumber()
		var v any
		require.NoError(t, d.Decode(&v), col)
		return v
	}
	asValue := func(m pcommon.Map) pcommon.Value {
		v := pcommon.NewValueEmpty()
		m.CopyTo(v.SetEmptyMap())
		return v
	}
	for i, row := range res.Rows {
		lr := lrs.At(i)
		sameJSON(t, "resource", wantJSON(asValue(rl.Resource().Attributes())), decode(row[0]))
		sameJSON(t, "attrs", wantJSON(asValue(lr.Attributes())), decode(row[1]))
		sameJSON(t, "body", wantJSON(lr.Body()), decode(row[2]))
	}
}

// FuzzEncodeMap: whatever the key, string and double, the encoding is
// valid JSON holding each of them.
func FuzzEncodeMap(f *testing.F) {
	f.Add("k", "v", 1.5)
	f.Add("\xff", "\x00\"\\", math.NaN())
	f.Add("", "\u2028", math.Inf(-1))
	f.Fuzz(func(t *testing.T, k, s string, x float64) {
		m := pcommon.NewMap()
		m.PutStr("s", s)
		m.PutDouble("x", x)
		m.PutEmptyMap("in").PutStr(k, s)
		b := appendMap(nil, m)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %q", b)
		}
		d := json.NewDecoder(strings.NewReader(string(b)))
		d.UseNumber()
		var got any
		if err := d.Decode(&got); err != nil {
			t.Fatal(err)
		}
		v := pcommon.NewValueEmpty()
		m.CopyTo(v.SetEmptyMap())
		sameJSON(t, "$", wantJSON(v), got)
	})
}

// TestFutureRowsExpireByIngestion: a record stamped in the year 2200, or at
// the largest uint64 (past int64), is stored with a non-negative time and
// expires once its arrival is older than the retention.
func TestFutureRowsExpireByIngestion(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	y2200 := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	ld := logsWith("acme", y2200, "y2200")
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	far := lrs.AppendEmpty()
	far.Body().SetStr("max")
	far.SetTimestamp(math.MaxUint64)
	far.SetObservedTimestamp(math.MaxUint64)
	lrs.AppendEmpty().Body().SetStr("now") // no timestamp: ingestion time
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))

	md := metricsWith("acme", y2200, "y2200")
	dp := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0)
	dp.SetTimestamp(math.MaxUint64)
	dp.SetStartTimestamp(math.MaxUint64)
	require.NoError(t, s.WriteMetrics("acme", md, "v1"))

	td := tracesWith("acme", y2200, "y2200")
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.SetStartTimestamp(math.MaxUint64)
	sp.SetEndTimestamp(math.MaxUint64)
	sp.Events().At(0).SetTimestamp(math.MaxUint64)
	require.NoError(t, s.WriteTraces("acme", td, "v1"))

	// Nothing negative anywhere a time is stored.
	for _, q := range []string{
		"SELECT min(time_unix_nano), min(observed_unix_nano) FROM logs",
		"SELECT min(time_unix_nano), min(start_time_unix_nano) FROM datapoints",
		"SELECT min(time_unix_nano), min(end_unix_nano), min(json_extract(events, '$[0].time_unix_nano')) FROM spans",
	} {
		for _, c := range query(t, s, "acme", q)[0] {
			assert.GreaterOrEqual(t, c.(int64), int64(0), q)
		}
	}
	assert.Equal(t, [][]any{{"max", int64(math.MaxInt64)}}, query(t, s, "acme", "SELECT body, time_unix_nano FROM logs WHERE body = 'max'"))

	week := map[policy.Signal]time.Duration{policy.SignalLogs: 7 * 24 * time.Hour, policy.SignalMetrics: 7 * 24 * time.Hour, policy.SignalTraces: 7 * 24 * time.Hour}
	deleted, err := s.ApplyRetention("acme", week, now, "v1")
	require.NoError(t, err)
	assert.Equal(t, map[policy.Signal]int64{policy.SignalLogs: 0, policy.SignalMetrics: 0, policy.SignalTraces: 0}, deleted, "nothing is a week old yet")

	deleted, err = s.ApplyRetention("acme", week, now.Add(8*24*time.Hour), "v1")
	require.NoError(t, err)
	assert.Equal(t, map[policy.Signal]int64{policy.SignalLogs: 3, policy.SignalMetrics: 2, policy.SignalTraces: 1}, deleted)
}

// TestExpiryUsesIndexes: aging future rows from their ingestion does not
// turn each retention run into a scan of the whole table.
func TestExpiryUsesIndexes(t *testing.T) {
	s, _ := openStore(t)
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	tdb.mu.Lock()
	defer tdb.mu.Unlock()
	for _, table := range tables {
		// The view's rows table, aliased r in the view.
		rt := rowTables[table]
		expiryUsesIndexes(t, tdb, sqlExpire(table), "SEARCH "+rt+" USING INDEX "+rt+"_ahead (ingested_unix_nano<?)")
		for _, v := range []int{rowHash1, rowHash2} {
			expiryUsesIndexes(t, tdb, sqlExpired(table, v), "SEARCH r USING INDEX "+rt+"_ahead (ingested_unix_nano<?)")
		}
	}
}

func expiryUsesIndexes(t *testing.T, tdb *tenantDB, query, search string) {
	t.Helper()
	st, _, err := tdb.conn.Prepare("EXPLAIN QUERY PLAN " + query)
	require.NoError(t, err)
	var plan []string
	for st.Step() {
		plan = append(plan, st.ColumnText(3))
	}
	require.NoError(t, st.Close())
	assert.Contains(t, plan, search, query)
	for _, step := range plan {
		assert.False(t, strings.HasPrefix(step, "SCAN"), "%s: %v", query, plan)
	}
}

// TestRepeatedKeysAreAllStored: OTLP lets a key repeat and pdata keeps
// every copy; the store keeps them all too (json_extract reads the first,
// as pcommon.Map.Get does), so no copy hides another.
func TestRepeatedKeysAreAllStored(t *testing.T) {
	js := `{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"service.name","value":{"stringValue":"first"}},{"key":"service.name","value":{"stringValue":"second"}}]},` +
		`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"attributes":[` +
		`{"key":"k","value":{"doubleValue":1}},{"key":"k","value":{"stringValue":"two"}}]}]}]}]}`
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(js))
	require.NoError(t, err)
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	assert.Equal(t, [][]any{{"first", `{"service.name":"first","service.name":"second"}`, int64(1), `{"k":1,"k":"two"}`}},
		query(t, s, "acme", `SELECT json_extract(resource, '$."service.name"'), resource, json_extract(attrs, '$.k'), attrs FROM logs`))
}
