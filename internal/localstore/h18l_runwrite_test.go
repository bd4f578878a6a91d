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
			open := func(vfsName string) *sqlite3.Conn {
				c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				require.NoError(t, c.Exec(key+"PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
				return c
			}
			c := open(walBatchVFS)
			require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
			before := runBlocks.Load()
			for b := range 4 {
				require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1; BEGIN IMMEDIATE"))
				for i := range 50 {
					require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", b, i, strings.Repeat("v", 1500+i))))
				}
				require.NoError(t, c.Exec("COMMIT; PRAGMA "+walBatchPragma+"=0"))
			}
			whole := runBlocks.Load() - before
			if keyPragma == "hexkey" {
				require.Greater(t, whole, int64(4*15), "most of each run's blocks")
			} else {
				require.Zero(t, whole)
			}
			r := open("adiantum")
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
	open := func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.Exec(key+"PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	a := open(walBatchVFS)
	require.NoError(t, a.Exec("CREATE TABLE t(v TEXT)"))
	rows := 0
	write := func(c *sqlite3.Conn, armed bool) {
		if armed {
			require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1"))
		}
		require.NoError(t, c.Exec("BEGIN IMMEDIATE"))
		for i := range 50 {
			require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", rows, i, strings.Repeat("v", 1500+i))))
		}
		rows += 50
		require.NoError(t, c.Exec("COMMIT"))
		if armed {
			require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=0"))
		}
	}
	checkpoint := func(c *sqlite3.Conn) int64 {
		before := readAheadBlocks.Load()
		st, _, err := c.Prepare("PRAGMA wal_checkpoint(PASSIVE)")
		require.NoError(t, err)
		defer st.Close()
		require.True(t, st.Step())
		require.Equal(t, st.ColumnInt(1), st.ColumnInt(2), "every frame copied")
		return readAheadBlocks.Load() - before
	}
	r := open("adiantum")
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
	b := open("adiantum")
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
