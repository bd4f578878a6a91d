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

// TestH24rExportHoldsOneRowAtATime: exporting 48 MiB of rows under a
// 24 MiB heap limit. The export's query read the time window through the
// time index and sorted the whole rows by id in memory (temp_store is
// memory), so an export of more than a connection's memory (256 MiB by
// default) made ncruces panic; now it sorts the ids and reads each row by
// its id.
func TestH24rExportHoldsOneRowAtATime(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	for b := range 12 {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for i := range 8 {
			lr := sl.LogRecords().AppendEmpty()
			// Time against id order, so an index walk is not id order.
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Duration(b*8 + i))))
			lr.Body().SetStr(strings.Repeat(string(rune('a'+(b*8+i)%26)), 512<<10))
		}
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	}
	td, err := s.tenant("acme")
	require.NoError(t, err)
	td.mu.Lock()
	defer td.mu.Unlock()
	require.NoError(t, td.conn.Exec("PRAGMA hard_heap_limit=24000000"))
	export := func() (n int, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return exportSignal(td.conn, policy.SignalLogs, 0, math.MaxInt64, io.Discard)
	}
	n, err := export()
	require.NoError(t, err)
	require.Equal(t, 96, n)
}
