package localstore

import (
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/require"
)

// TestH23rCheckpointReadAheadWithAnotherWriter: a connection through the
// store's VFS (armed ingest transactions whose WAL runs it encrypts
// itself, and checkpoints that read the WAL ahead in chunks) and another
// through plain adiantum (tenancyctl's, writing its own small
// transactions and checkpointing too) write the same database at once.
// Each checkpoint of the first may run while the second appends frames
// in the block after the first's last commit. Every committed row is
// there afterwards, read through plain adiantum, and the database passes
// its integrity check.
func TestH23rCheckpointReadAheadWithAnotherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	key := "PRAGMA hexkey='" + hex.EncodeToString(newKey(t)) + "';"
	open := func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.BusyTimeout(time.Minute))
		require.NoError(t, c.Exec(key+"PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	a := open(walBatchVFS)
	require.NoError(t, a.Exec("CREATE TABLE t(v TEXT); CREATE TABLE u(v TEXT)"))
	b := open("adiantum")
	before := readAheadBlocks.Load()
	const rounds = 60
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		for r := range rounds {
			err := a.Exec("PRAGMA " + walBatchPragma + "=1; BEGIN IMMEDIATE")
			for i := 0; i < 20 && err == nil; i++ {
				err = a.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", r, i, strings.Repeat("a", 700+37*i)))
			}
			if err == nil {
				err = a.Exec("COMMIT")
			}
			if e := a.Exec("PRAGMA " + walBatchPragma + "=0"); err == nil {
				err = e
			}
			if err == nil {
				err = a.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
			if err != nil {
				errs[0] = fmt.Errorf("round %d: %w", r, err)
				return
			}
		}
	})
	wg.Go(func() {
		for r := range rounds * 4 {
			err := b.Exec(fmt.Sprintf("INSERT INTO u VALUES ('%d-%s')", r, strings.Repeat("b", 300+r%900)))
			if err == nil && r%7 == 0 {
				err = b.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
			if err != nil {
				errs[1] = fmt.Errorf("row %d: %w", r, err)
				return
			}
		}
	})
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	t.Logf("%d blocks read ahead", readAheadBlocks.Load()-before)
	check := func(c *sqlite3.Conn) {
		q, _, err := c.Prepare("SELECT (SELECT count(*) FROM t), (SELECT count(DISTINCT v) FROM t), (SELECT count(*) FROM u), (SELECT group_concat(integrity_check) FROM pragma_integrity_check)")
		require.NoError(t, err)
		defer q.Close()
		require.True(t, q.Step(), q.Err())
		require.Equal(t, []any{int64(rounds * 20), int64(rounds * 20), int64(rounds * 4), "ok"}, []any{q.ColumnInt64(0), q.ColumnInt64(1), q.ColumnInt64(2), q.ColumnText(3)})
	}
	r := open("adiantum")
	check(r)
	require.NoError(t, r.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
	check(r)
}
