package localstore

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkH26yUpgradeBigResource: the one-off upgrade (the first write
// of a Tenancy of format 3 to a database of row hash 1) of h26hRows
// records under one resource of 10 bytes or 1 MiB. The upgrade hashes
// every row under row hash 1 (its resource's JSON) and 2, in the write
// transaction, which holds the tenant's writer for as long: what row hash
// 1 cost per verify (verify-row-hash-1) is paid once here, on the ingest
// path.
func BenchmarkH26yUpgradeBigResource(b *testing.B) {
	for _, size := range []int{10, 1 << 20} {
		b.Run(fmt.Sprintf("upgrade/res=%dB", size), func(b *testing.B) {
			ld := h26hLogs(size, time.Now())
			for b.Loop() {
				b.StopTimer()
				s, master := openStore(b)
				s.rowHash1 = true
				if err := s.WriteLogs("acme", ld, "v1"); err != nil {
					b.Fatal(err)
				}
				dir := s.Dir()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				s, err := Open(dir, master)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.tenant("acme"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := s.Audit("acme", "note", map[string]any{}, "v1"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if res, err := s.VerifyAudit("acme"); err != nil || res.RowHash != rowHash2 {
					b.Fatal(res, err)
				}
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.N*h26hRows)/b.Elapsed().Seconds(), "rows/s")
		})
		// What the upgrade is set against: audit verify of the same
		// database on row hash 1 (read-only, not upgraded), closed and
		// opened again first as the upgrade's is.
		b.Run(fmt.Sprintf("verify-row-hash-1/res=%dB", size), func(b *testing.B) {
			s, master := openStore(b)
			s.rowHash1 = true
			if err := s.WriteLogs("acme", h26hLogs(size, time.Now()), "v1"); err != nil {
				b.Fatal(err)
			}
			// Closed and opened again, as the upgrade finds it.
			dir := s.Dir()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			s, err := Open(dir, master)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			for b.Loop() {
				if res, err := s.VerifyAudit("acme"); err != nil || res.RowHash != rowHash1 {
					b.Fatal(res, err)
				}
			}
			b.ReportMetric(float64(b.N*h26hRows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
