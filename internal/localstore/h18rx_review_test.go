package localstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH18rxRetentionHugeResourceManyRows: a hostile tenant sends one
// 1 MiB resource with 256 records; stored once it costs about 1 MiB on
// disk, but retention must not hold each deleted row's copy of it in
// SQLite's heap at once (DELETE ... RETURNING buffers every row it
// returns before the first): that is 256 MiB here, and with the resource
// stored once the disk no longer bounds it. Retention must run under a
// heap limit a few times the resource.
func TestH18rxRetentionHugeResourceManyRows(t *testing.T) {
	s, _ := openStore(t)
	old := time.Now().Add(-48 * time.Hour)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	rl.Resource().Attributes().PutStr("big", strings.Repeat("x", 1<<20))
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 256 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(old))
		lr.Body().SetStr(fmt.Sprint(i))
	}
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	heapLimited(t, s)
	d, err := noPanic(func() (map[policy.Signal]int64, error) {
		return s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
	})
	require.NoError(t, err)
	require.Equal(t, int64(256), d[policy.SignalLogs])
	require.Equal(t, [][]any{{int64(0), int64(0)}}, query(t, s, "acme", `SELECT (SELECT count(*) FROM logs), (SELECT count(*) FROM resources)`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// TestH18rxConversionRacedByAnotherOpener: two processes open a format 0
// database at once; both find the table logs (migrate, outside any
// transaction), one converts, and the other, once it has the write lock,
// must find the work done, not convert again (which failed on the ids the
// first copied, or on DROP TABLE of a view) and fail its open and the
// batch it was to write.
func TestH18rxConversionRacedByAnotherOpener(t *testing.T) {
	dir, master := seededAs(t, true) // format 0 was on row hash 1
	tamperDB(t, dir, master, "acme", toFormat0)
	kf, err := readKeyFile(filepath.Join(dir, "acme"), "acme")
	require.NoError(t, err)
	key, err := unwrapKey(master, kf)
	require.NoError(t, err)
	path := filepath.Join(dir, "acme", dbFileName)
	first, err := openConn(path, key, false)
	require.NoError(t, err)
	defer first.Close()
	second, err := openConn(path, key, false)
	require.NoError(t, err)
	defer second.Close()
	for _, c := range []*sqlite3.Conn{first, second} {
		require.NoError(t, c.Exec(schema))
		legacy, err := isTable(c, "logs")
		require.NoError(t, err)
		require.True(t, legacy)
		require.NoError(t, migrateColumns(c))
	}
	require.NoError(t, convertLegacy(first))
	require.NoError(t, convertLegacy(second), "the second opener's conversion, after the first's")
	require.NoError(t, migrate(second))

	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "after"), "v1"))
	assert.Equal(t, [][]any{{int64(7)}}, query(t, s, "acme", `SELECT count(*) FROM logs`))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// TestH18rxQueryStopsAtMaxBytes: one 1 MiB resource on 300 rows is about
// 1 MiB on disk, and SELECT * FROM logs read it 300 times into the
// result; a query stops before its values pass 256 MiB (by default), as
// it stops at --max-rows, and says it was truncated.
func TestH18rxQueryStopsAtMaxBytes(t *testing.T) {
	s, _ := openStore(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	rl.Resource().Attributes().PutStr("big", strings.Repeat("x", 1<<20))
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range 300 {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Body().SetStr(fmt.Sprint(i))
	}
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	res, err := s.Query(context.Background(), "acme", `SELECT resource FROM logs`, QueryOptions{}, "v1")
	require.NoError(t, err)
	assert.True(t, res.Truncated)
	assert.Equal(t, 255, len(res.Rows), "rows of 1 MiB and a few bytes under 256 MiB")
	res, err = s.Query(context.Background(), "acme", `SELECT resource FROM logs`, QueryOptions{MaxBytes: 1}, "v1")
	require.NoError(t, err)
	assert.True(t, res.Truncated)
	assert.Equal(t, 1, len(res.Rows), "the first row is always read")
}
