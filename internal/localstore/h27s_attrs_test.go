package localstore

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tenancyhq/tenancy/internal/identity"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// h27sValue puts a random value in v, from a small set so that
// neighbours are often the same.
func h27sValue(r *rand.Rand, v pcommon.Value, depth int) {
	switch r.IntN(9) {
	case 0:
		v.SetStr([]string{"a", "b", "", "é\x00\"", "[REDACTED:email]"}[r.IntN(5)])
	case 1:
		v.SetInt(int64(r.IntN(3)) - 1)
	case 2:
		v.SetDouble([]float64{0, math.Copysign(0, -1), 1.5, math.NaN(), math.Inf(1), 1e21}[r.IntN(6)])
	case 3:
		v.SetBool(r.IntN(2) == 0)
	case 4:
		v.SetEmptyBytes().FromRaw([]byte("xy")[:r.IntN(3)])
	case 5:
		if depth < 2 {
			s := v.SetEmptySlice()
			for range r.IntN(3) {
				h27sValue(r, s.AppendEmpty(), depth+1)
			}
			return
		}
		v.SetStr("a")
	case 6:
		if depth < 2 {
			m := v.SetEmptyMap()
			for i := range r.IntN(3) {
				h27sValue(r, m.PutEmpty(strconv.Itoa(i)), depth+1)
			}
			return
		}
		v.SetInt(0)
	case 7:
		// empty value
	default:
		v.SetStr("a")
	}
}

// TestH27sAttrsJSONMemo: over runs of maps where neighbours often have
// the same pairs, the same pairs in another order, a repeated key, or one
// value changed (type, sign of zero, NaN, bytes, nested slices and maps),
// attrsJSON gives what appendMap writes for each.
func TestH27sAttrsJSONMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 19))
	td := &tenantDB{}
	prev := pcommon.NewMap()
	for i := range 20000 {
		m := pcommon.NewMap()
		switch r.IntN(6) {
		case 0, 1: // the same pairs again
			prev.CopyTo(m)
		case 2: // the same pairs, the first moved last
			first := true
			var fk string
			var fv pcommon.Value
			for k, v := range prev.All() {
				if first {
					fk, fv, first = k, v, false
					continue
				}
				v.CopyTo(m.PutEmpty(k))
			}
			if !first {
				fv.CopyTo(m.PutEmpty(fk))
			}
		case 3: // one value changed
			prev.CopyTo(m)
			n, j := m.Len(), 0
			for _, v := range m.All() {
				if j == n-1 {
					h27sValue(r, v, 0)
				}
				j++
			}
		default:
			for j := range r.IntN(4) {
				h27sValue(r, m.PutEmpty("k"+strconv.Itoa(j)), 0)
			}
			if r.IntN(4) == 0 && m.Len() > 0 {
				// A repeated key, as the wire can carry: PutEmpty would
				// replace it, so copy a map that has it.
				raw := plog.NewLogs()
				lr := raw.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
				m.CopyTo(lr.Attributes())
				lr.Attributes().PutStr("zz", "x")
				b, err := (&plog.ProtoMarshaler{}).MarshalLogs(raw)
				require.NoError(t, err)
				b = append(b[:0:0], b...)
				got, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(h27sDupKey(b))
				require.NoError(t, err)
				got.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().CopyTo(m)
			}
		}
		require.Equal(t, string(appendMap(nil, m)), string(td.attrsJSON(m)), "map %d", i)
		prev = m
	}
}

// h27sDupKey is b with its key "zz" renamed to "k0", which the record
// already has when it has any key: a map with a repeated key.
func h27sDupKey(b []byte) []byte {
	for i := 0; i+4 <= len(b); i++ {
		if b[i] == 0x0a && b[i+1] == 2 && b[i+2] == 'z' && b[i+3] == 'z' {
			b[i+2], b[i+3] = 'k', '0'
			return b
		}
	}
	panic("no key zz")
}

// TestH27sAttrsMemoIsOneWrites: a batch written, its attributes then
// changed in place (the same pdata, as a caller that reuses it would),
// and written again: the second write's rows hold the new attributes, not
// the JSON the first write remembered.
func TestH27sAttrsMemoIsOneWrites(t *testing.T) {
	s, _ := openStore(t)
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	for range 3 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Attributes().PutStr("v", "first")
	}
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	for _, lr := range sl.LogRecords().All() {
		v, _ := lr.Attributes().Get("v")
		v.SetStr("again")
	}
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	res, err := s.Query(context.Background(), "acme", "SELECT attrs, count(*) FROM logs GROUP BY attrs ORDER BY attrs", QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	require.Equal(t, [][]any{{`{"v":"again"}`, int64(3)}, {`{"v":"first"}`, int64(3)}}, res.Rows)
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// TestH27sLineageOfRepeatedAttrs: the lineage rows a write stores count
// each request's records, redactions by class and retention flags as
// LogsLineage reads them record by record, over batches where runs of
// records share attributes (the memo's recordAgain) and change: class
// lists with a repeated class, more classes than a row counts, empty
// attributes between equal ones, a request's resources in several
// entries and scopes, the redactor's counts on the resources.
func TestH27sLineageOfRepeatedAttrs(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 20))
	many := make([]string, 70)
	for i := range many {
		many[i] = "c" + strconv.Itoa(i)
	}
	sets := [][]string{nil, {"email"}, {"email", "tenant_domain"}, {"email", "email"}, many, {"phone"}}
	s, _ := openStore(t)
	now := time.Now()
	for batch := range 30 {
		ld := plog.NewLogs()
		for e := range 1 + r.IntN(5) {
			rl := ld.ResourceLogs().AppendEmpty()
			req := r.IntN(3)
			rl.Resource().Attributes().PutStr(identity.AttrLineage, e2eLineage(batch*10+req, now))
			if r.IntN(2) == 0 {
				redactedResource(rl, int64(r.IntN(5)), 1, "email")
			} else {
				rl.Resource().Attributes().PutStr("entry", strconv.Itoa(e))
			}
			for range 1 + r.IntN(2) {
				sl := rl.ScopeLogs().AppendEmpty()
				var last plog.LogRecord
				for i := range r.IntN(40) {
					lr := sl.LogRecords().AppendEmpty()
					lr.SetTimestamp(pcommon.NewTimestampFromTime(now))
					if i > 0 && r.IntN(4) != 0 {
						last.Attributes().CopyTo(lr.Attributes()) // a run of the same
					} else if r.IntN(5) != 0 {
						lr.Attributes().PutStr("app", "server")
						if c := sets[r.IntN(len(sets))]; c != nil {
							redacted(lr, c...)
						}
						if r.IntN(3) == 0 {
							lr.Attributes().PutBool(identity.AttrRetentionExpired, true)
						}
						if r.IntN(3) == 0 {
							lr.Attributes().PutInt(identity.AttrRetentionOriginal, 1)
						}
					}
					last = lr
				}
			}
		}
		want := map[string][]any{}
		for _, p := range LogsLineage(ld).parts {
			if p.records > 0 {
				want[p.facts.id] = []any{p.records, p.redactionsJSON(), p.retentionJSON()}
			}
		}
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
		res, err := s.Query(context.Background(), "acme", "SELECT lineage_id, records, redactions, retention FROM lineage WHERE audit_seq = (SELECT max(seq) FROM audit WHERE kind = 'ingest')", QueryOptions{Actor: "test", MaxRows: 1000}, "v1")
		require.NoError(t, err)
		got := map[string][]any{}
		for _, row := range res.Rows {
			got[row[0].(string)] = row[1:]
		}
		require.Equal(t, want, got, "batch %d", batch)
	}
	_, err := s.VerifyAudit("acme")
	require.NoError(t, err)
}
