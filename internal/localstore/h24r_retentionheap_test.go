package localstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH24rRetentionHoldsOneRowAtATime: retention deletes 48 MiB of
// expired rows under a 24 MiB heap limit on the tenant's connection. SQLite
// runs a DELETE ... RETURNING to its end and keeps every returned row in
// memory before handing back the first, so retention held all the expired
// rows at once: a tenant whose expired data passed the connection's
// memory (256 MiB by default; a retention shortened in the policy, or a
// collector down for a while) made ncruces panic, crashing the collector,
// and again at every restart. The rows are read one at a time, hashed as
// before, then deleted; the chain verifies.
func TestH24rRetentionHoldsOneRowAtATime(t *testing.T) {
	s, _ := openStore(t)
	old := time.Now().Add(-48 * time.Hour)
	for b := range 12 {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for i := range 8 {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(old.Add(time.Duration(b*8 + i))))
			lr.Body().SetStr(strings.Repeat(string(rune('a'+(b*8+i)%26)), 512<<10))
		}
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	}
	td, err := s.tenant("acme")
	require.NoError(t, err)
	td.mu.Lock()
	require.NoError(t, td.conn.Exec("PRAGMA hard_heap_limit=24000000"))
	td.mu.Unlock()
	expire := func() (d map[policy.Signal]int64, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
	}
	d, err := expire()
	require.NoError(t, err)
	require.Equal(t, int64(96), d[policy.SignalLogs])
	res, err := s.Query(t.Context(), "acme", "SELECT count(*) FROM logs", QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	require.Equal(t, int64(0), res.Rows[0][0])
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}
