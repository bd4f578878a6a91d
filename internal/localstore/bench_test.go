package localstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkWriteLogs writes batches of 1,000 log records to one tenant,
// each batch one transaction with its audit entry, with the encrypting VFS
// (encryption=on, what the store always does) and without it
// (encryption=off, the same write path in clear): records/s is the
// store's ingest rate; compare with benchstat -col /encryption.
func BenchmarkWriteLogs(b *testing.B) {
	markers := make([]string, 1000)
	for i := range markers {
		markers[i] = fmt.Sprintf("GET /api/orders/%d 200 12ms", i)
	}
	ld := logsWith("acme", time.Now(), markers...)
	for _, enc := range []string{"on", "off"} {
		b.Run("encryption="+enc, func(b *testing.B) {
			s, _ := openStore(b)
			s.unencrypted = enc == "off"
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := s.WriteLogs("acme", ld, "v1"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(markers))/b.Elapsed().Seconds(), "records/s")
		})
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
