package localstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkH27RunPerRowBound is an upper bound, not a store: what
// BenchmarkWriteLogsE2E's batches would cost written as one SQLite row per
// 100-record run (the run's records as a JSON array, one keyed hash per
// row, an index on the run's earliest time), through the same encrypted
// WAL, writer VFS and pragmas, with no resources, lineage or audit rows
// kept. Run beside BenchmarkWriteLogsE2E to see what a format of runs
// could gain (docs/benchmarks.md, "What the local store's target needs").
func BenchmarkH27RunPerRowBound(b *testing.B) {
	for _, dirty := range []bool{false, true} {
		b.Run(fmt.Sprintf("dirty=%v", dirty), func(b *testing.B) {
			ld := e2eLikeLogs(dirty, 41)
			conn, err := openConn(filepath.Join(b.TempDir(), "data.db"), newKey(b), false)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			if err := conn.Exec(`CREATE TABLE log_blocks(id INTEGER PRIMARY KEY, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL,
  ingested INTEGER NOT NULL, service TEXT, scope TEXT, resource_id INTEGER NOT NULL, lineage INTEGER, n INTEGER NOT NULL,
  records TEXT NOT NULL, hash BLOB NOT NULL);
CREATE INDEX log_blocks_time ON log_blocks(min_time);`); err != nil {
				b.Fatal(err)
			}
			st, _, err := conn.Prepare(`INSERT INTO log_blocks(min_time,max_time,ingested,service,scope,resource_id,lineage,n,records,hash) VALUES(?,?,?,?,?,?,?,?,?,?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			mac := hmac.New(sha256.New, make([]byte, 32))
			var buf []byte
			var sum []byte
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for b.Loop() {
				restamp(ld, time.Now())
				if err := conn.Exec("BEGIN IMMEDIATE; PRAGMA " + walBatchPragma + "=1"); err != nil {
					b.Fatal(err)
				}
				now := time.Now().UnixNano()
				for r, rl := range ld.ResourceLogs().All() {
					for _, sl := range rl.ScopeLogs().All() {
						buf = append(buf[:0], '[')
						lo, hi := int64(1<<62), int64(0)
						for i, lr := range sl.LogRecords().All() {
							if i > 0 {
								buf = append(buf, ',')
							}
							t := int64(lr.Timestamp())
							lo, hi = min(lo, t), max(hi, t)
							buf = append(buf, `{"t":`...)
							buf = strconv.AppendInt(buf, t, 10)
							buf = append(buf, `,"o":`...)
							buf = strconv.AppendInt(buf, int64(lr.ObservedTimestamp()), 10)
							buf = append(buf, `,"sn":`...)
							buf = strconv.AppendInt(buf, int64(lr.SeverityNumber()), 10)
							buf = append(buf, `,"st":`...)
							buf = appendString(buf, lr.SeverityText())
							buf = append(buf, `,"b":`...)
							buf = appendString(buf, lr.Body().Str())
							buf = append(buf, `,"a":`...)
							buf = appendMap(buf, lr.Attributes())
							buf = append(buf, '}')
						}
						buf = append(buf, ']')
						mac.Reset()
						mac.Write(buf)
						sum = mac.Sum(sum[:0])
						if err := firstError(st.BindInt64(1, lo), st.BindInt64(2, hi), st.BindInt64(3, now), st.BindText(4, "telemetrygen"),
							st.BindText(5, ""), st.BindInt64(6, int64(r%3+1)), st.BindInt64(7, int64(r)), st.BindInt64(8, int64(sl.LogRecords().Len())),
							st.BindRawText(9, buf), st.BindBlob(10, sum)); err != nil {
							b.Fatal(err)
						}
						if err := st.Exec(); err != nil {
							b.Fatal(err)
						}
					}
				}
				if err := conn.Exec("COMMIT"); err != nil {
					b.Fatal(err)
				}
				_ = conn.Exec("PRAGMA " + walBatchPragma + "=0")
			}
			cpu = processCPU() - cpu
			n := ld.LogRecordCount()
			b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "records/cpu-s")
		})
	}
}

// firstError is the first of errs that is not nil.
func firstError(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
