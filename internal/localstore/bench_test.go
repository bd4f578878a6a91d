package localstore

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkWriteLogs writes batches of 1,000 log records to one tenant,
// each batch one transaction with its audit entry; records/s is the store's
// ingest rate with encryption, WAL and synchronous=normal.
func BenchmarkWriteLogs(b *testing.B) {
	s, _ := openStore(b)
	markers := make([]string, 1000)
	for i := range markers {
		markers[i] = fmt.Sprintf("GET /api/orders/%d 200 12ms", i)
	}
	ld := logsWith("acme", time.Now(), markers...)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.WriteLogs("acme", ld, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(markers))/b.Elapsed().Seconds(), "records/s")
}
