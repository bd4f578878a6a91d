package localstore

import (
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFailedCommitStopsReadAhead: after "PRAGMA tenancy_wal_batch=forget",
// which the store runs when a COMMIT fails (the commit frame it wrote may
// not have reached the WAL index, so a later writer may rewrite the
// blocks read-ahead would take for committed), the next checkpoint reads
// every block under adiantum's lock, and still copies every frame; a
// restart of the WAL this connection writes lets it read ahead again.
func TestFailedCommitStopsReadAhead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	c := openWALTestConn(t, path, "PRAGMA hexkey='"+hex.EncodeToString(newKey(t))+"';", walBatchVFS)
	require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
	rows := 0
	write := func() {
		writeWALBatch(t, c, rows, true)
		rows += 50
	}
	checkpoint := func() int64 { return checkpointReadAhead(t, c) }
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
