package localstore

import (
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// TestRunCipherWritesAdiantumsBytes: armed transactions through the
// store's VFS (walBatchVFS over adiantum) write most of their WAL runs as
// whole blocks encrypted by runCipher; plain adiantum reads every row,
// from the WAL and, after a checkpoint, from the database, which passes
// its integrity check. A connection keyed otherwise than by hexkey
// (textkey) writes through adiantum alone, and reads back too.
func TestRunCipherWritesAdiantumsBytes(t *testing.T) {
	for _, keyPragma := range []string{"hexkey", "textkey"} {
		t.Run(keyPragma, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data.db")
			key := "PRAGMA hexkey='" + hex.EncodeToString(newKey(t)) + "';"
			if keyPragma == "textkey" {
				key = "PRAGMA textkey='a passphrase';"
			}
			c := openWALTestConn(t, path, key, walBatchVFS)
			require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
			before := runBlocks.Load()
			for b := range 4 {
				writeWALBatch(t, c, b, true)
			}
			whole := runBlocks.Load() - before
			if keyPragma == "hexkey" {
				require.Greater(t, whole, int64(4*15), "most of each run's blocks")
			} else {
				require.Zero(t, whole)
			}
			r := openWALTestConn(t, path, key, "adiantum")
			check := func() {
				q, _, err := r.Prepare("SELECT count(*), count(DISTINCT v), (SELECT group_concat(integrity_check) FROM pragma_integrity_check) FROM t")
				require.NoError(t, err)
				defer q.Close()
				require.True(t, q.Step())
				require.Equal(t, int64(200), q.ColumnInt64(0))
				require.Equal(t, int64(200), q.ColumnInt64(1))
				require.Equal(t, "ok", q.ColumnText(2))
			}
			check() // from the WAL
			require.NoError(t, c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
			check() // from the database
		})
	}
}

// TestCheckpointReadsAheadOnlyBelowItsCommits: a checkpoint through the
// store's VFS reads the WAL's committed blocks in chunks decrypted by
// runCipher, and the database it leaves holds every row and passes its
// integrity check read through plain adiantum. Once another connection
// has restarted the WAL (its header is no longer the one this connection
// wrote), this connection's checkpoint reads as adiantum does until it
// restarts the WAL itself.
func TestCheckpointReadsAheadOnlyBelowItsCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	key := "PRAGMA hexkey='" + hex.EncodeToString(newKey(t)) + "';"
	a := openWALTestConn(t, path, key, walBatchVFS)
	require.NoError(t, a.Exec("CREATE TABLE t(v TEXT)"))
	rows := 0
	write := func(c *sqlite3.Conn, armed bool) {
		writeWALBatch(t, c, rows, armed)
		rows += 50
	}
	checkpoint := func(c *sqlite3.Conn) int64 { return checkpointReadAhead(t, c) }
	r := openWALTestConn(t, path, key, "adiantum")
	check := func() {
		q, _, err := r.Prepare("SELECT count(*), count(DISTINCT v), (SELECT group_concat(integrity_check) FROM pragma_integrity_check) FROM t")
		require.NoError(t, err)
		defer q.Close()
		require.True(t, q.Step())
		require.Equal(t, int64(rows), q.ColumnInt64(0))
		require.Equal(t, int64(rows), q.ColumnInt64(1))
		require.Equal(t, "ok", q.ColumnText(2))
	}
	for range 3 {
		write(a, true)
	}
	write(a, false) // an unarmed commit counts too
	require.Greater(t, checkpoint(a), int64(60), "read ahead")
	check()

	// Another connection (another process's) restarts the WAL.
	b := openWALTestConn(t, path, key, "adiantum")
	write(b, false)
	write(a, true)
	require.Zero(t, checkpoint(a), "the WAL's header is not the one this connection wrote")
	check()

	// After a restart of its own, it reads ahead again.
	require.NoError(t, a.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
	write(a, true)
	write(a, true)
	require.Greater(t, checkpoint(a), int64(20), "read ahead")
	check()
}
