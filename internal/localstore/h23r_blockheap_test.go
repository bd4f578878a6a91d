package localstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestH23rBlocksHoldNoMoreHostileBytesThanRows: a tenant's batch of 32
// records of 512 KiB each. SQLite holds a statement's bound values until
// they are bound again, and a connection's WebAssembly memory never
// shrinks: a block binding all 32 at once held 16 MiB in the tenant's
// heap where the row-by-row insert held one record. Under a heap limit
// that the row-by-row insert fits in, blocks must fit too (ncruces
// panics when SQLite cannot allocate a bound value: the collector would
// crash), and the rows and the chain come out as row by row.
func TestH23rBlocksHoldNoMoreHostileBytesThanRows(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	sl := rl.ScopeLogs().AppendEmpty()
	ts := time.Now()
	bodies := 0
	for i := range 40 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(i))))
		if i%4 == 3 { // small rows between, and large attributes
			lr.Body().SetStr(fmt.Sprintf("small %d", i))
			bodies += len(lr.Body().Str())
			lr.Attributes().PutStr("big", strings.Repeat(string(rune('A'+i%26)), 40<<10))
			continue
		}
		lr.Body().SetStr(strings.Repeat(string(rune('a'+i%26)), 512<<10))
		bodies += 512 << 10
		lr.Attributes().PutInt("n", int64(i))
	}
	for _, rows := range []int{1, 0} {
		s, _ := openStore(t)
		s.blockRows = rows
		require.NoError(t, s.WriteLogs("acme", plog.NewLogs(), "v1"))
		td, err := s.tenant("acme")
		require.NoError(t, err)
		td.mu.Lock()
		require.NoError(t, td.conn.Exec("PRAGMA hard_heap_limit=12000000"))
		td.mu.Unlock()
		write := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return s.WriteLogs("acme", ld, "v1")
		}
		require.NoError(t, write(), "blockRows=%d", rows)
		res, err := s.Query(t.Context(), "acme", "SELECT count(*), min(id), max(id), sum(length(body)), sum(length(attrs)) FROM logs", QueryOptions{Actor: "test"}, "v1")
		require.NoError(t, err)
		require.Equal(t, []any{int64(40), int64(1), int64(40), int64(bodies), res.Rows[0][4]}, res.Rows[0], "blockRows=%d", rows)
		_, err = s.VerifyAudit("acme")
		require.NoError(t, err)
	}
}
