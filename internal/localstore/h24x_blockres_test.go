package localstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestH24xResourceCopiesPerBlockStatement: a resource attribute of a few
// MiB is a run's shared value, bound to a block statement. Each block
// length is its own cached statement, and SQLite keeps a statement's
// bindings after it runs, so a run of 32 + 8 + 1 rows held three copies
// where row by row held one, and evaluating a block copies them once more
// (15 MiB of SQLite heap against 7 for a 3 MiB resource). The lowest
// hard_heap_limit that ingests the batch must be no higher in blocks than
// row by row.
func TestH24xResourceCopiesPerBlockStatement(t *testing.T) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "svc")
	rl.Resource().Attributes().PutStr("big", strings.Repeat("r", 3<<20))
	sl := rl.ScopeLogs().AppendEmpty()
	ts := time.Now()
	for i := range 41 { // 32 + 8 + 1
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(i))))
		lr.Body().SetStr(fmt.Sprintf("r%d", i))
	}
	lowest := map[int]int{}
	for _, rows := range []int{1, 0} {
		for limit := 4 << 20; limit <= 40<<20; limit += 1 << 20 {
			s, _ := openStore(t)
			s.blockRows = rows
			if err := s.WriteLogs("acme", plog.NewLogs(), "v1"); err != nil {
				t.Fatal(err)
			}
			td, err := s.tenant("acme")
			if err != nil {
				t.Fatal(err)
			}
			td.mu.Lock()
			err = td.conn.Exec(fmt.Sprintf("PRAGMA hard_heap_limit=%d", limit))
			td.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			write := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				return s.WriteLogs("acme", ld, "v1")
			}
			if err := write(); err == nil {
				lowest[rows] = limit
				break
			} else if limit == 4<<20 {
				t.Logf("blockRows=%d limit %d: %v", rows, limit, err)
			}
		}
	}
	t.Logf("lowest hard_heap_limit that ingests a 3 MiB resource: rows %d MiB, blocks %d MiB", lowest[1]>>20, lowest[0]>>20)
	if lowest[0] > lowest[1]+(1<<20) {
		t.Errorf("blocks need %d MiB of SQLite heap where row by row needs %d MiB", lowest[0]>>20, lowest[1]>>20)
	}
}
