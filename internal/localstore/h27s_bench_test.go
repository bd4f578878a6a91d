package localstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// BenchmarkH27sRowAttrs is the per-record work on a record's attributes
// besides SQLite, on BenchmarkWriteLogsE2E's batch: its JSON for the attrs
// column and its count in its request's lineage row. each: written and
// read for every record, as before h27s; memo: attrsJSON and seeRow,
// which give the last record's JSON and count it again when a record's
// attributes are the last one's (in this batch, all of a request's).
func BenchmarkH27sRowAttrs(b *testing.B) {
	for _, dirty := range []bool{false, true} {
		ld := e2eLikeLogs(dirty, 41)
		n := ld.LogRecordCount()
		for _, path := range []string{"each", "memo"} {
			b.Run(fmt.Sprintf("dirty=%v/path=%s", dirty, path), func(b *testing.B) {
				td := &tenantDB{}
				var buf []byte
				b.ReportAllocs()
				for b.Loop() {
					l := &Lineage{}
					td.attrs.reset()
					id := int64(1)
					for _, rl := range ld.ResourceLogs().All() {
						p := l.resource(rl.Resource().Attributes())
						for _, sl := range rl.ScopeLogs().All() {
							for _, lr := range sl.LogRecords().All() {
								if path == "each" {
									buf = appendMap(buf[:0], lr.Attributes())
									p.record(id, lr.Attributes())
								} else {
									buf = td.attrsJSON(lr.Attributes())
									td.seeRow(p, id, lr.Attributes())
								}
								id++
							}
						}
					}
					for _, p := range l.parts {
						_ = p.redactionsJSON()
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			})
		}
	}
}

// BenchmarkH27sParseLineage reads bench-e2e's lineage value, once per
// request: encoding/json (identity.ParseLineage) against parseLineage.
func BenchmarkH27sParseLineage(b *testing.B) {
	s := e2eLineage(3, time.Now())
	for _, path := range []string{"json", "direct"} {
		b.Run("path="+path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				if path == "json" {
					_, ok = identity.ParseLineage(s)
				} else {
					_, ok = parseLineage(s)
				}
				if !ok {
					b.Fatal(s)
				}
			}
		})
	}
}
