package localstore

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// TestHostileReview3SpilledCommitSurvivesACrash: an armed ingest
// transaction larger than the page cache spills frames to the WAL before
// its commit, and then changes a page it had spilled. SQLite writes that
// page over its frame in place and, at the commit, rewrites the checksums
// of the frames from there to the commit frame (walRewriteChecksums): 24-
// byte header writes, the last one the commit frame's. Nothing reads the
// WAL after that last header, so walBatchFile must not hold it past the
// commit (disarming drops what it holds). The files as they are on disk
// once COMMIT returned (a kill -9 then: copied without the -shm, so the
// next open recovers the WAL and checks every frame's checksum) must hold
// every committed row.
func TestHostileReview3SpilledCommitSurvivesACrash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	key := hex.EncodeToString(newKey(t))
	open := func(p, vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+p+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		require.NoError(t, c.BusyTimeout(5*time.Second))
		require.NoError(t, c.Exec("PRAGMA hexkey='"+key+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	a := open(path, walBatchVFS)
	defer a.Close()
	require.NoError(t, a.Exec("CREATE TABLE t(v TEXT); CREATE TABLE n(c INTEGER); INSERT INTO n VALUES (0)"))
	require.NoError(t, a.Exec("PRAGMA cache_size=5; PRAGMA "+walBatchPragma+"=1; BEGIN IMMEDIATE"))
	for i := range 100 {
		// Rows larger than the cache spill; n's page, spilled with them,
		// is changed again after each: written over its frame in place.
		require.NoError(t, a.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%s'); UPDATE n SET c = c + 1", i, strings.Repeat("x", 2000))))
	}
	require.NoError(t, a.Exec("COMMIT"))
	require.NoError(t, a.Exec("PRAGMA "+walBatchPragma+"=0"))

	// kill -9 now: what is on disk is what the next process finds.
	crash := t.TempDir()
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(crash, "data.db"+suffix), b, 0o600))
	}
	c := open(filepath.Join(crash, "data.db"), "adiantum")
	defer c.Close()
	st, _, err := c.Prepare("SELECT (SELECT count(*) FROM t), (SELECT c FROM n)")
	require.NoError(t, err)
	defer st.Close()
	require.True(t, st.Step(), st.Err())
	require.Equal(t, int64(100), st.ColumnInt64(0), "committed rows found after a crash")
	require.Equal(t, int64(100), st.ColumnInt64(1))
}
