package localstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// BenchmarkWriteLogs writes batches of 1,000 log records to one tenant,
// each batch one transaction with its audit entry, with the encrypting VFS
// (encryption=on, what the store always does) and without it
// (encryption=off, the same write path in clear): records/s is the
// store's ingest rate; compare with benchstat -col /encryption.
func BenchmarkWriteLogs(b *testing.B) {
	for _, enc := range []string{"on", "off"} {
		b.Run("encryption="+enc, func(b *testing.B) { benchWriteLogs(b, func(s *Store) { s.unencrypted = enc == "off" }) })
	}
}

// BenchmarkRowDigests writes the same batches with each row's keyed hash
// summed into its ingest entry (digests=on, what the store always does)
// and without (digests=off): the difference is what covering the data
// rows by the audit chain costs on ingest.
func BenchmarkRowDigests(b *testing.B) {
	for _, on := range []string{"on", "off"} {
		b.Run("digests="+on, func(b *testing.B) { benchWriteLogs(b, func(s *Store) { s.noRowDigests = on == "off" }) })
	}
}

func benchWriteLogs(b *testing.B, configure func(*Store)) {
	markers := make([]string, 1000)
	for i := range markers {
		markers[i] = fmt.Sprintf("GET /api/orders/%d 200 12ms", i)
	}
	ld := logsWith("acme", time.Now(), markers...)
	s, _ := openStore(b)
	configure(s)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		if err := s.WriteLogs("acme", ld, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	cpu = processCPU() - cpu
	b.ReportMetric(float64(b.N*len(markers))/b.Elapsed().Seconds(), "records/s")
	// The process's CPU time, GC included: what bench-e2e counts, and far
	// less disturbed than wall time by other jobs on a shared machine.
	b.ReportMetric(float64(b.N*len(markers))/cpu.Seconds(), "records/cpu-s")
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestNoRowDigestsBaselineSkipsThem keeps BenchmarkRowDigests honest: the
// baseline's chain does not account for its rows, the store's does.
func TestNoRowDigestsBaselineSkipsThem(t *testing.T) {
	for _, off := range []bool{false, true} {
		s, _ := openStore(t)
		s.noRowDigests = off
		if err := s.WriteLogs("acme", logsWith("acme", time.Now(), "x"), "v1"); err != nil {
			t.Fatal(err)
		}
		_, err := s.VerifyAudit("acme")
		if (err != nil) != off {
			t.Fatalf("noRowDigests=%v: verify error %v", off, err)
		}
	}
}

// TestUnencryptedBaselineIsPlaintext keeps the benchmark honest: the
// baseline really writes in clear, and the store really does not.
func TestUnencryptedBaselineIsPlaintext(t *testing.T) {
	for _, unencrypted := range []bool{false, true} {
		s, _ := openStore(t)
		s.unencrypted = unencrypted
		if err := s.WriteLogs("acme", logsWith("acme", time.Now(), "needle-in-clear"), "v1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		found := fileContains(t, s.Dir()+"/acme/data.db", "needle-in-clear") || fileContains(t, s.Dir()+"/acme/data.db-wal", "needle-in-clear")
		if found != unencrypted {
			t.Fatalf("unencrypted=%v: plaintext found=%v", unencrypted, found)
		}
	}
}

func fileContains(t *testing.T, path, s string) bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(b, []byte(s))
}

// BenchmarkLineage measures what lineage costs on ingest: each iteration
// writes a batch of 1,000 log records whose resources carry their
// request's tenant.lineage (each record's lineage column and one lineage
// row per request, in the ingest entry's digest) to one store, and the
// same batch without lineage to another, timing each: interleaved, so a
// machine's load shifts both alike. records/s-lineage and records/s-plain
// are the two rates, overhead-% how much longer the lineage write took.
// requests=1 is a batch that is one request; requests=100 merges 100
// requests of 10 records (what a batch processor makes of small ones).
func BenchmarkLineage(b *testing.B) {
	for _, requests := range []int{1, 100} {
		b.Run(fmt.Sprintf("requests=%d", requests), func(b *testing.B) {
			with, without := plog.NewLogs(), plog.NewLogs()
			per, now := 1000/requests, time.Now()
			for r := range requests {
				markers := make([]string, per)
				for i := range markers {
					markers[i] = fmt.Sprintf("GET /api/orders/%d 200 12ms", r*per+i)
				}
				one := withLineage(logsWith("acme", now, markers...), fmt.Sprintf("0190a1b2c3d47%03dabcdef0123456789", r))
				one.ResourceLogs().At(0).CopyTo(without.ResourceLogs().AppendEmpty())
				one.ResourceLogs().At(0).MoveTo(with.ResourceLogs().AppendEmpty())
			}
			// The same batch, its lineage removed, as the store receives
			// data no tenant processor stamped.
			for _, rl := range without.ResourceLogs().All() {
				rl.Resource().Attributes().Remove(identity.AttrLineage)
			}
			sWith, _ := openStore(b)
			sWithout, _ := openStore(b)
			var tWith, tWithout time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				if err := sWith.WriteLogs("acme", with, "v1"); err != nil {
					b.Fatal(err)
				}
				mid := time.Now()
				if err := sWithout.WriteLogs("acme", without, "v1"); err != nil {
					b.Fatal(err)
				}
				tWith, tWithout = tWith+mid.Sub(start), tWithout+time.Since(mid)
			}
			b.ReportMetric(float64(b.N*1000)/tWith.Seconds(), "records/s-lineage")
			b.ReportMetric(float64(b.N*1000)/tWithout.Seconds(), "records/s-plain")
			b.ReportMetric(100*(tWith.Seconds()/tWithout.Seconds()-1), "overhead-%")
		})
	}
}
