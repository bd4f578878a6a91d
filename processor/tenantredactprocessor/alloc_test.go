//go:build !race

// The race detector allocates on its own, so allocation bounds are checked
// only without it (make test-unit runs this file in a plain pass).

package tenantredactprocessor

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/redact"
)

// TestCleanRecordsAllocate bounds allocations for records that need no
// change: at most one per record.
func TestCleanRecordsAllocate(t *testing.T) {
	for _, n := range []int{10, 10000} {
		r, err := redact.New(benchPolicy(t, n), redact.Options{})
		require.NoError(t, err)
		ld := benchLogs(-1)
		allocs := testing.AllocsPerRun(5, func() {
			if st := r.Logs(ld); st.Total() != 0 {
				t.Fatalf("clean batch changed: %v", st.Redactions)
			}
		})
		t.Logf("n=%d: %.0f allocations per batch of %d clean records", n, allocs, benchBatch)
		// Measured 0.094 (1.7 while the automaton library returned a fresh
		// slice of matches for every string holding a pattern): what is
		// left is the IBAN expression's result slice on hex session ids
		// shaped like an IBAN. The target is 1.
		require.LessOrEqual(t, allocs/benchBatch, 0.2)
	}
}

// TestDirtyRecordsAllocate bounds allocations for records that all need a
// change (the end-to-end benchmark's dirty load: a foreign domain in the
// body, an e-mail attribute, and the three audit attributes to write).
func TestDirtyRecordsAllocate(t *testing.T) {
	for _, n := range []int{10, 10000} {
		r, err := redact.New(dirtyPolicy(t, n), redact.Options{})
		require.NoError(t, err)
		src := dirtyLogs(n/2, true)
		batches := make([]plog.Logs, 6)
		for i := range batches {
			batches[i] = plog.NewLogs()
			src.CopyTo(batches[i])
		}
		next := 0
		allocs := testing.AllocsPerRun(len(batches)-1, func() {
			if st := r.Logs(batches[next]); st.Total() != 2*benchBatch {
				t.Fatalf("dirty batch: %v", st.Redactions)
			}
			next++
		})
		t.Logf("n=%d: %.0f allocations per batch of %d dirty records", n, allocs, benchBatch)
		// Measured 0.094: the bodies' chunks (one per ~40 bodies) and the
		// audit attributes' slabs (a few per 256 records). Through pdata's
		// Put calls the audit attributes alone took 8 per record, and each
		// body's new string one (9.02 in all).
		require.LessOrEqual(t, allocs/benchBatch, 0.15)
	}
}
