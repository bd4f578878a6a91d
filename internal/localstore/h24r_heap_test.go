package localstore

import (
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// A connection's WebAssembly memory is 256 MiB by default and ncruces
// panics when SQLite cannot allocate: whatever holds all of a window's
// rows at once crashes its process once the window is larger. These tests
// put 48 MiB of rows (96 of 512 KiB) under a 24 MiB heap limit.

// writeBigLogs writes 96 records of 512 KiB, the i-th at at(i).
func writeBigLogs(t *testing.T, s *Store, at func(i int) time.Time) {
	t.Helper()
	for b := range 12 {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for i := b * 8; i < b*8+8; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(at(i)))
			lr.Body().SetStr(strings.Repeat(string(rune('a'+i%26)), 512<<10))
		}
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	}
}

// heapLimited caps the tenant's connection at 24 MB.
func heapLimited(t *testing.T, s *Store) *tenantDB {
	t.Helper()
	td, err := s.tenant("acme")
	require.NoError(t, err)
	td.mu.Lock()
	defer td.mu.Unlock()
	require.NoError(t, td.conn.Exec("PRAGMA hard_heap_limit=24000000"))
	return td
}

// noPanic runs f, turning a panic into an error.
func noPanic[T any](f func() (T, error)) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// TestH24rRetentionHoldsOneRowAtATime: SQLite runs a DELETE ... RETURNING
// to its end and keeps every returned row in memory before handing back
// the first, so retention held all the expired rows at once: a tenant
// whose expired data passed the connection's memory (a retention
// shortened in the policy, a collector down for a while) crashed the
// collector, and again at every restart. The rows are read one at a time,
// hashed as before, then deleted; the chain verifies.
func TestH24rRetentionHoldsOneRowAtATime(t *testing.T) {
	s, _ := openStore(t)
	old := time.Now().Add(-48 * time.Hour)
	writeBigLogs(t, s, func(i int) time.Time { return old.Add(time.Duration(i)) })
	heapLimited(t, s)
	d, err := noPanic(func() (map[policy.Signal]int64, error) {
		return s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
	})
	require.NoError(t, err)
	require.Equal(t, int64(96), d[policy.SignalLogs])
	res, err := s.Query(t.Context(), "acme", "SELECT count(*) FROM logs", QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	require.Equal(t, int64(0), res.Rows[0][0])
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// TestH24rExportHoldsOneRowAtATime: the export's query read the time
// window through the time index and sorted the whole rows by id in memory
// (temp_store is memory); now it sorts the ids and reads each row by its
// id.
func TestH24rExportHoldsOneRowAtATime(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	// Time against id order, so an index walk is not id order.
	writeBigLogs(t, s, func(i int) time.Time { return now.Add(-time.Duration(i)) })
	td := heapLimited(t, s)
	td.mu.Lock()
	defer td.mu.Unlock()
	n, err := noPanic(func() (int, error) {
		return exportSignal(td.conn, policy.SignalLogs, 0, math.MaxInt64, io.Discard)
	})
	require.NoError(t, err)
	require.Equal(t, 96, n)
}
