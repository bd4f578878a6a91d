package localstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// The WAL tests' connections, batches and checkpoints: a connection to
// path through vfsName keyed by the key pragma, in WAL mode and never
// checkpointed on its own.
func openWALTestConn(t *testing.T, path, key, vfsName string) *sqlite3.Conn {
	t.Helper()
	c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Exec(key+"PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
	return c
}

// writeWALBatch inserts 50 rows of about 1.5 KiB, distinct by tag, into
// table t in one transaction, with the WAL armed if armed.
func writeWALBatch(t *testing.T, c *sqlite3.Conn, tag int, armed bool) {
	t.Helper()
	if armed {
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1"))
	}
	require.NoError(t, c.Exec("BEGIN IMMEDIATE"))
	for i := range 50 {
		require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", tag, i, strings.Repeat("v", 1500+i))))
	}
	require.NoError(t, c.Exec("COMMIT"))
	if armed {
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=0"))
	}
}

// checkpointReadAhead checkpoints c's WAL, checks every frame was copied,
// and returns the blocks read ahead.
func checkpointReadAhead(t *testing.T, c *sqlite3.Conn) int64 {
	t.Helper()
	before := readAheadBlocks.Load()
	st, _, err := c.Prepare("PRAGMA wal_checkpoint(PASSIVE)")
	require.NoError(t, err)
	defer st.Close()
	require.True(t, st.Step())
	require.Equal(t, st.ColumnInt(1), st.ColumnInt(2), "every frame copied")
	return readAheadBlocks.Load() - before
}
