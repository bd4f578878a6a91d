package localstore

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// TestFailedCommitStopsReadAhead: after "PRAGMA tenancy_wal_batch=forget",
// which the store runs when a COMMIT fails (the commit frame it wrote may
// not have reached the WAL index, so a later writer may rewrite the
// blocks read-ahead would take for committed), the next checkpoint reads
// every block under adiantum's lock, and still copies every frame; a
// restart of the WAL this connection writes lets it read ahead again.
// Rolled-back runs are cleared before their buffer goes back to the pool.
func TestFailedCommitStopsReadAhead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+walBatchVFS, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Exec("PRAGMA hexkey='"+hex.EncodeToString(newKey(t))+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
	require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
	rows := 0
	write := func() {
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1"))
		require.NoError(t, c.Exec("BEGIN IMMEDIATE"))
		for i := range 50 {
			require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", rows, i, strings.Repeat("v", 1500+i))))
		}
		rows += 50
		require.NoError(t, c.Exec("COMMIT"))
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=0"))
	}
	checkpoint := func() int64 {
		before := readAheadBlocks.Load()
		st, _, err := c.Prepare("PRAGMA wal_checkpoint(PASSIVE)")
		require.NoError(t, err)
		defer st.Close()
		require.True(t, st.Step())
		require.Equal(t, st.ColumnInt(1), st.ColumnInt(2), "every frame copied")
		return readAheadBlocks.Load() - before
	}
	count := func() int64 {
		q, _, err := c.Prepare("SELECT count(*) FROM t")
		require.NoError(t, err)
		defer q.Close()
		require.True(t, q.Step())
		return q.ColumnInt64(0)
	}

	write()
	write()
	require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"="+walBatchForget))
	require.Zero(t, checkpoint(), "no read-ahead after a failed commit")
	require.Equal(t, int64(rows), count())

	require.NoError(t, c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
	write()
	write()
	require.Greater(t, checkpoint(), int64(20), "read ahead after its own restart")
	require.Equal(t, int64(rows), count())

}

// TestDroppedRunIsCleared: a run still held when the WAL is disarmed is a
// rolled-back transaction's plaintext; it is cleared before its buffer
// goes back to the pool all tenants share.
func TestDroppedRunIsCleared(t *testing.T) {
	w := &walBatchFile{db: &walBatchDB{}, blockOff: -1}
	w.buf = append(make([]byte, 0, 8192), strings.Repeat("secret", 1000)...)
	held := w.buf
	w.drop()
	require.Nil(t, w.buf)
	require.Equal(t, make([]byte, len(held)), held, "the run's bytes are zero")
}
