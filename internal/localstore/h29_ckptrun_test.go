package localstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// osCountingFS counts the writes reaching the OS for main database files,
// under adiantum, and fails them while fail is set.
type osCountingFS struct {
	vfs.VFS
	mu     sync.Mutex
	writes int
	fail   bool
}

var errInjected = errors.New("injected write failure")

func (c *osCountingFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := vfsutil.WrapOpenFilename(c.VFS, name, flags)
	if err == nil && flags&vfs.OPEN_MAIN_DB != 0 {
		return &osCountingFile{File: f, fs: c}, flags, nil
	}
	return f, flags, err
}

func (c *osCountingFS) set(fail bool) (writes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail, writes = fail, c.writes
	c.writes = 0
	return writes
}

type osCountingFile struct {
	vfs.File
	fs *osCountingFS
}

func (f *osCountingFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes++
	fail := f.fs.fail
	f.fs.mu.Unlock()
	if fail {
		return 0, errInjected
	}
	return f.File.WriteAt(p, off)
}

func (f *osCountingFile) Unwrap() vfs.File { return f.File }

// SharedMemory passes the OS file's on: WAL mode needs it.
func (f *osCountingFile) SharedMemory() vfs.SharedMemory { return vfsutil.WrapSharedMemory(f.File) }

// ckptTestStore is a database through walBatchVFS's layering (adiantum
// over the OS, direct), the OS's writes to the database file counted.
func ckptTestStore(t *testing.T, name string) (*osCountingFS, func(vfsName string) *sqlite3.Conn) {
	counting := &osCountingFS{VFS: vfs.Find("")}
	vfs.Register(name+"-os", counting)
	vfs.Register(name, &walBatchFS{VFS: adiantum.Wrap(counting, nil), direct: true})
	vfs.Register(name+"-plain", adiantum.Wrap(counting, nil))
	t.Cleanup(func() { vfs.Unregister(name); vfs.Unregister(name + "-os"); vfs.Unregister(name + "-plain") })
	path := filepath.Join(t.TempDir(), "data.db")
	key := hex.EncodeToString(newKey(t))
	return counting, func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		require.NoError(t, c.Exec("PRAGMA hexkey='"+key+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
}

func fillForCheckpoint(t *testing.T, c *sqlite3.Conn, batches, rows int) {
	require.NoError(t, c.Exec("CREATE TABLE IF NOT EXISTS t(v TEXT); CREATE INDEX IF NOT EXISTS t_v ON t(v)"))
	for b := range batches {
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1; BEGIN IMMEDIATE"))
		for i := range rows {
			require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%d-%s')", b, i, strings.Repeat("v", 3000))))
		}
		require.NoError(t, c.Exec("COMMIT; PRAGMA "+walBatchPragma+"=0"))
	}
}

func checkpoint(t *testing.T, c *sqlite3.Conn) (frames, copied int, err error) {
	st, _, err := c.Prepare("PRAGMA wal_checkpoint(PASSIVE)")
	require.NoError(t, err)
	defer st.Close()
	if !st.Step() {
		return 0, 0, st.Err()
	}
	return st.ColumnInt(1), st.ColumnInt(2), st.Err()
}

// wholeWith reads t back through plain adiantum: its rows and integrity.
func wholeWith(t *testing.T, c *sqlite3.Conn, rows int) {
	t.Helper()
	q, _, err := c.Prepare("SELECT count(*), (SELECT group_concat(integrity_check) FROM pragma_integrity_check) FROM t")
	require.NoError(t, err)
	defer q.Close()
	require.True(t, q.Step(), "%v", q.Err())
	require.Equal(t, int64(rows), q.ColumnInt64(0))
	require.Equal(t, "ok", q.ColumnText(1))
}

// A checkpoint writes its pages to the database file in runs: a few
// writes reach the OS where each page was one, and the file is the one
// adiantum writes (read back whole through plain adiantum).
func TestCheckpointWritesPagesInRuns(t *testing.T) {
	for _, runs := range []bool{false, true} {
		t.Run(fmt.Sprintf("runs=%v", runs), func(t *testing.T) {
			defer func(was bool) { ckptRuns = was }(ckptRuns)
			ckptRuns = runs
			counting, open := ckptTestStore(t, fmt.Sprintf("h29-ckpt-%v", runs))
			c := open(fmt.Sprintf("h29-ckpt-%v", runs))
			fillForCheckpoint(t, c, 5, 60)
			counting.set(false)
			frames, copied, err := checkpoint(t, c)
			require.NoError(t, err)
			require.Equal(t, frames, copied)
			require.Greater(t, frames, 250)
			writes := counting.set(false)
			t.Logf("%d frames checkpointed, %d writes to the database file", frames, writes)
			if runs {
				assert.Less(t, writes, frames/10, "pages still written one by one")
			} else {
				assert.GreaterOrEqual(t, writes, frames*9/10)
			}
			wholeWith(t, open(fmt.Sprintf("h29-ckpt-%v-plain", runs)), 300)
		})
	}
}

// A run that cannot be written at CKPT_DONE (which returns no error)
// fails the checkpoint at its Sync: SQLite keeps the frames in the WAL,
// nothing is lost, and the next checkpoint copies them. The checkpoint is
// small, one run, so the only write is CKPT_DONE's.
func TestCheckpointRunFailureKeepsTheFrames(t *testing.T) {
	counting, open := ckptTestStore(t, "h29-ckpt-fail")
	c := open("h29-ckpt-fail")
	fillForCheckpoint(t, c, 1, 20)
	counting.set(true)
	_, _, err := checkpoint(t, c)
	counting.set(false)
	require.Error(t, err, "the checkpoint succeeded without writing its pages")

	wholeWith(t, open("h29-ckpt-fail-plain"), 20)
	// The writer's own connection goes on: a failed run is reported once,
	// to the checkpoint, not to every later read and write.
	require.NoError(t, c.Exec("PRAGMA cache_size=0; INSERT INTO t VALUES ('after')"))
	wholeWith(t, c, 21)
	frames, copied, err := checkpoint(t, c)
	require.NoError(t, err)
	require.Equal(t, frames, copied)
	require.Positive(t, frames)
	require.NoError(t, c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
	wholeWith(t, open("h29-ckpt-fail-plain"), 21)
}

// With synchronous=OFF a checkpoint does not sync, so nothing could report
// a run's failure: runs are off there.
func TestCheckpointRunsOffWithoutSync(t *testing.T) {
	counting, open := ckptTestStore(t, "h29-ckpt-nosync")
	c := open("h29-ckpt-nosync")
	require.NoError(t, c.Exec("PRAGMA synchronous=off"))
	fillForCheckpoint(t, c, 5, 60)
	counting.set(false)
	frames, _, err := checkpoint(t, c)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, counting.set(false), frames*9/10)
}

// BenchmarkH29CheckpointRuns is BenchmarkWriteLogsE2E's dirty batches with
// the checkpoint's page writes one by one (runs=false, as before) and in
// runs, in one run of the benchmark.
func BenchmarkH29CheckpointRuns(b *testing.B) {
	for _, runs := range []bool{false, true} {
		b.Run(fmt.Sprintf("runs=%v", runs), func(b *testing.B) {
			defer func(was bool) { ckptRuns = was }(ckptRuns)
			ckptRuns = runs
			writeLogsE2E(b, true)
		})
	}
}

// The run CKPT_DONE could not write is reported once, to the operation
// after it (the checkpoint's Truncate or Sync); the file then goes on: a
// connection whose checkpoint failed on a full disk must still read.
func TestCheckpointRunErrorIsReportedOnce(t *testing.T) {
	mem := &memFile{data: make([]byte, 3*walBlock)}
	d := &walBatchDB{File: mem}
	d.ckptStart()
	d.ckpt.err = errInjected // as ckptDone keeps it
	d.ckpt.on = false
	assert.ErrorIs(t, d.Sync(0), errInjected)
	assert.NoError(t, d.Sync(0))
	n, err := d.ReadAt(make([]byte, 10), 0)
	assert.NoError(t, err)
	assert.Equal(t, 10, n)
}
