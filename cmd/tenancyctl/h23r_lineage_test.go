package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH23rLineageOfAReusedRowID: row ids are what SQLite gives, one past
// the table's largest, so once retention has deleted a table's last rows
// (all of them when a tenant was quiet for longer than its retention; here the last five) the
// next batch takes their ids again, and two ingest entries name the same
// ids. A record is traced to the entry that inserted it, the latest that
// names its id, not to the batch retention deleted.
func TestH23rLineageOfAReusedRowID(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	batch := func(ts time.Time, n int) plog.Logs {
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		for range n {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			lr.Body().SetStr("a record")
		}
		return ld
	}
	res, err := s.Query(context.Background(), "acme", "SELECT coalesce(max(id), 0) FROM logs", localstore.QueryOptions{Actor: "test"}, "pv-old")
	require.NoError(t, err)
	last := res.Rows[0][0].(int64) // the seed's rows, kept
	require.NoError(t, s.WriteLogs("acme", batch(time.Now().Add(-72*time.Hour), 5), "pv-old"))
	deleted, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "pv-old")
	require.NoError(t, err)
	require.Equal(t, int64(5), deleted[policy.SignalLogs])
	require.NoError(t, s.WriteLogs("acme", batch(time.Now(), 3), "pv-new"))
	require.NoError(t, s.Close())

	code, out, errOut := tenancyctl(t, "", "lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--record", fmt.Sprint(last+2))
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `stored +\S+ by audit entry seq \d+, policy version pv-new, in a batch of rows `+fmt.Sprintf(`%d\.\.%d`, last+1, last+3), out)
}
