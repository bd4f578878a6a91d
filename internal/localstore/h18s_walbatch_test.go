package localstore

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
	"github.com/ncruces/go-sqlite3/vfs/adiantum"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

const kill9Batch = 300 // records per batch in the kill -9 test

// TestKill9LosesNoCommittedBatch: a child process writes batches of logs to
// a store, printing each batch's number once WriteLogs returned (what the
// router acknowledges with wait_for_delivery), and is killed with SIGKILL
// mid-stream. Every batch it reported is in the store, whole, the audit
// chain verifies, and the store takes more writes.
func TestKill9LosesNoCommittedBatch(t *testing.T) {
	if dir := os.Getenv("H18S_KILL9_DIR"); dir != "" {
		kill9Child(dir, os.Getenv("H18S_KILL9_KEY"))
		return
	}
	dir, key := t.TempDir(), newKey(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^TestKill9LosesNoCommittedBatch$", "-test.count=1")
	cmd.Env = append(os.Environ(), "H18S_KILL9_DIR="+dir, "H18S_KILL9_KEY="+hex.EncodeToString(key))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	acked := -1
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if n, ok := strings.CutPrefix(lines.Text(), "acked "); ok {
			acked, err = strconv.Atoi(n)
			require.NoError(t, err)
			if acked >= 40 {
				break
			}
		}
	}
	require.NoError(t, cmd.Process.Kill()) // SIGKILL: mid-batch, most likely
	_ = cmd.Wait()
	require.GreaterOrEqual(t, acked, 40, "the child acknowledged too few batches")

	s, err := Open(dir, key)
	require.NoError(t, err)
	defer s.Close()
	res, err := s.Query(context.Background(), "acme", "SELECT body FROM logs", QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	perBatch := map[int]int{}
	for _, r := range res.Rows {
		var b, i int
		_, err := fmt.Sscanf(r[0].(string), "batch-%d-record-%d", &b, &i)
		require.NoError(t, err)
		perBatch[b]++
	}
	for b := 0; b <= acked; b++ {
		require.Equal(t, kill9Batch, perBatch[b], "acknowledged batch %d", b)
	}
	for b, n := range perBatch {
		require.Equal(t, kill9Batch, n, "batch %d is whole or absent", b)
	}
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	require.NoError(t, s.WriteLogs("acme", kill9Logs(-1), "v1"))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

func kill9Logs(b int) plog.Logs {
	markers := make([]string, kill9Batch)
	for i := range markers {
		markers[i] = fmt.Sprintf("batch-%d-record-%d", b, i)
	}
	return logsWith("acme", time.Now(), markers...)
}

func kill9Child(dir, hexKey string) {
	key, err := hex.DecodeString(hexKey)
	if err == nil {
		var s *Store
		if s, err = Open(dir, key); err == nil {
			for b := 0; err == nil; b++ {
				if err = s.WriteLogs("acme", kill9Logs(b), "v1"); err == nil {
					fmt.Printf("acked %d\n", b)
				}
			}
		}
	}
	fmt.Fprintln(os.Stderr, "kill9 child:", err)
	os.Exit(2)
}

// TestWalBatchRollbackDropsItsFrames: an ingest transaction that fails
// after its rows were inserted (here, with more pages than the cache holds,
// so SQLite spilled frames to the WAL mid-transaction) leaves nothing; the
// next batches commit, a reader on another connection sees exactly them,
// and the chain verifies.
func TestWalBatchRollbackDropsItsFrames(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", kill9Logs(0), "v1"))
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	tdb.mu.Lock()
	require.NoError(t, tdb.conn.Exec("PRAGMA cache_size=10"))
	tdb.mu.Unlock()
	boom := errors.New("boom")
	err = tdb.inTxBatch(true, func() error {
		sum := IngestSummary{Signal: "logs"}
		ins := tdb.newBlockInserter(&sum, logColumns, "ingested_unix_nano", "service_name", "scope_name", "resource", lineageColumn)
		rid, rd, err := tdb.resourceID("{}")
		if err != nil {
			return err
		}
		ins.startRun(200, "{}", rd, int64(1), nil, "", rid, nil)
		big := strings.Repeat("x", 3000)
		for i := range 200 {
			if _, err := ins.add(intCell(int64(i+1)), intCell(0), intCell(9), textCell("INFO"), textCell(big), cell{}, cell{}, bytesCell([]byte("{}"))); err != nil {
				return err
			}
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	for b := 1; b <= 3; b++ {
		require.NoError(t, s.WriteLogs("acme", kill9Logs(b), "v1"))
	}
	res, err := s.Query(context.Background(), "acme", "SELECT count(*), count(DISTINCT body) FROM logs", QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err)
	require.Equal(t, []any{int64(4 * kill9Batch), int64(4 * kill9Batch)}, res.Rows[0])
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}

// countingFS counts the writes reaching adiantum's WAL files.
type countingFS struct {
	vfs.VFS
	mu     sync.Mutex
	writes int
	blocks int // 4 KiB blocks read
}

func (c *countingFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := vfsutil.WrapOpenFilename(c.VFS, name, flags)
	if err == nil && flags&vfs.OPEN_WAL != 0 {
		return &countingFile{File: f, fs: c}, flags, nil
	}
	return f, flags, err
}

func (c *countingFS) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

type countingFile struct {
	vfs.File
	fs *countingFS
}

func (f *countingFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.writes++
	f.fs.mu.Unlock()
	return f.File.WriteAt(p, off)
}

func (f *countingFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	f.fs.blocks += int(((off+int64(len(p))+walBlock-1)&^(walBlock-1))-(off&^(walBlock-1))) / walBlock
	f.fs.mu.Unlock()
	return f.File.ReadAt(p, off)
}

func (f *countingFile) Unwrap() vfs.File { return f.File }

// TestWalBatchWritesACommitInOneRun: through walBatchVFS, an armed
// transaction's WAL frames reach the encrypting VFS as one write up to
// the commit frame's header, then its page (they were two per frame:
// header and page); an unarmed one's as before. The
// file is adiantum's format: a connection through plain adiantum reads it.
func TestWalBatchWritesACommitInOneRun(t *testing.T) {
	counting := &countingFS{}
	// adiantum over the OS, counted, under the batching layer.
	base := adiantum.Wrap(vfs.Find(""), nil)
	counting.VFS = base
	vfs.Register("h18s-test-batch", &walBatchFS{VFS: counting})
	defer vfs.Unregister("h18s-test-batch")

	path := filepath.Join(t.TempDir(), "data.db")
	key := newKey(t)
	open := func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		require.NoError(t, c.Exec("PRAGMA hexkey='"+hex.EncodeToString(key)+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	c := open("h18s-test-batch")
	defer c.Close()
	require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
	insert := func(armed bool) int {
		before := counting.count()
		if armed {
			require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1"))
		}
		require.NoError(t, c.Exec("BEGIN IMMEDIATE"))
		for i := range 40 {
			require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%s')", i, strings.Repeat("v", 1000))))
		}
		require.NoError(t, c.Exec("COMMIT"))
		if armed {
			require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=0"))
		}
		return counting.count() - before
	}
	plain := insert(false)
	require.Greater(t, plain, 20, "an unarmed commit: two writes per frame")
	require.Equal(t, 2, insert(true), "an armed commit: one run, then the commit frame's page")

	r := open("adiantum")
	defer r.Close()
	st, _, err := r.Prepare("SELECT count(*) FROM t")
	require.NoError(t, err)
	defer st.Close()
	require.True(t, st.Step())
	require.Equal(t, int64(80), st.ColumnInt64(0))
}

// TestWalBatchRolledBackFramesNeverOverwriteAnotherWriter: a transaction
// armed on one connection spills frames to the WAL (a tiny cache) and
// rolls back; another connection (through plain adiantum, as tenancyctl
// in another process) then commits rows where those frames were. Disarming
// the first must drop its frames, not write them over the other's: every
// row of the other's is read back, and the database checks whole.
func TestWalBatchRolledBackFramesNeverOverwriteAnotherWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	key := newKey(t)
	open := func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		require.NoError(t, c.BusyTimeout(5*time.Second))
		require.NoError(t, c.Exec("PRAGMA hexkey='"+hex.EncodeToString(key)+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	a := open(walBatchVFS)
	defer a.Close()
	b := open("adiantum")
	defer b.Close()
	require.NoError(t, a.Exec("CREATE TABLE t(who TEXT, v TEXT)"))
	require.NoError(t, a.Exec("PRAGMA cache_size=5; PRAGMA "+walBatchPragma+"=1; BEGIN IMMEDIATE"))
	for i := range 100 {
		require.NoError(t, a.Exec(fmt.Sprintf("INSERT INTO t VALUES ('a', '%d-%s')", i, strings.Repeat("a", 2000))))
	}
	require.NoError(t, a.Exec("ROLLBACK"))
	require.NoError(t, b.Exec("BEGIN IMMEDIATE"))
	for i := range 100 {
		require.NoError(t, b.Exec(fmt.Sprintf("INSERT INTO t VALUES ('b', '%d-%s')", i, strings.Repeat("b", 2000))))
	}
	require.NoError(t, b.Exec("COMMIT"))
	require.NoError(t, a.Exec("PRAGMA "+walBatchPragma+"=0"))

	for _, c := range []*sqlite3.Conn{a, open("adiantum")} {
		st, _, err := c.Prepare("SELECT count(*), sum(who = 'b'), (SELECT group_concat(integrity_check) FROM pragma_integrity_check) FROM t")
		require.NoError(t, err)
		require.True(t, st.Step(), st.Err())
		require.Equal(t, int64(100), st.ColumnInt64(0))
		require.Equal(t, int64(100), st.ColumnInt64(1))
		require.Equal(t, "ok", st.ColumnText(2))
		st.Close()
	}
}

// memFile is a vfs.File in memory that records its writes.
type memFile struct {
	vfs.File // nil: only what walBatchFile calls is implemented
	data     []byte
	writes   [][2]int64 // offset, length
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.data = append(m.data, make([]byte, end-int64(len(m.data)))...)
	}
	copy(m.data[off:], p)
	m.writes = append(m.writes, [2]int64{off, int64(len(p))})
	return len(p), nil
}

func (m *memFile) ReadAt(p []byte, off int64) (int, error) { return copy(p, m.data[off:]), nil }
func (m *memFile) Size() (int64, error)                    { return int64(len(m.data)), nil }
func (m *memFile) Sync(vfs.SyncFlag) error                 { return nil }
func (m *memFile) Close() error                            { return nil }

// walFrame is a frame's header (commit: a database size, as SQLite marks
// a commit frame) and its page.
func walFrame(pgno uint32, commit bool, fill byte) ([]byte, []byte) {
	h := make([]byte, walFrameHeader)
	h[3] = byte(pgno)
	if commit {
		h[7] = 9
	}
	return h, []byte(strings.Repeat(string(fill), 4096))
}

// TestWalBatchFileRuns drives walBatchFile as SQLite does: frames of an
// armed transaction reach the file in one write when its commit frame's
// header is written, not before, and that frame's page at once; a read writes the run first; frames of a
// transaction disarmed without its commit frame are never written; an
// unarmed write goes straight through.
func TestWalBatchFileRuns(t *testing.T) {
	mem := &memFile{}
	db := &walBatchDB{}
	w := &walBatchFile{File: mem, db: db}
	db.wal = w
	frame := func(off int64, pgno uint32, commit bool, fill byte) int64 {
		h, p := walFrame(pgno, commit, fill)
		_, err := w.WriteAt(h, off)
		require.NoError(t, err)
		_, err = w.WriteAt(p, off+walFrameHeader)
		require.NoError(t, err)
		return off + walFrameHeader + 4096
	}
	_, err := db.Pragma(walBatchPragma, "1")
	require.NoError(t, err)
	off := frame(32, 1, false, 'a')
	off = frame(off, 2, false, 'b')
	require.Empty(t, mem.writes, "no frame is written before the commit frame")
	end := frame(off, 3, true, 'c')
	require.Equal(t, [][2]int64{{32, end - 4096 - 32}, {end - 4096, 4096}}, mem.writes,
		"the transaction in one write up to its commit frame's header, then that frame's page")
	_, err = db.Pragma(walBatchPragma, "0")
	require.NoError(t, err)

	// A transaction that spills a frame, reads it back and rolls back.
	mem.writes = nil
	_, err = db.Pragma(walBatchPragma, "1")
	require.NoError(t, err)
	next := frame(end, 4, false, 'd')
	buf := make([]byte, 4096)
	_, err = w.ReadAt(buf, end+walFrameHeader)
	require.NoError(t, err)
	require.Equal(t, byte('d'), buf[0], "a read sees the run")
	require.Equal(t, [][2]int64{{end, next - end}}, mem.writes, "written before the read")
	frame(next, 5, false, 'e')
	_, err = db.Pragma(walBatchPragma, "0")
	require.NoError(t, err)
	require.Len(t, mem.writes, 1, "a frame left when the transaction ended is dropped")
	require.Len(t, mem.data, int(next))

	// Unarmed: each write as it comes.
	mem.writes = nil
	frame(next, 5, true, 'f')
	require.Len(t, mem.writes, 2)
}

// TestWalBatchCheckpointDecryptsEachBlockOnce: a checkpoint through
// walBatchVFS reads the WAL's blocks about once each (adiantum alone reads
// two per frame), and the database it leaves is whole and holds every row,
// read through plain adiantum.
func TestWalBatchCheckpointDecryptsEachBlockOnce(t *testing.T) {
	counting := &countingFS{VFS: adiantum.Wrap(vfs.Find(""), nil)}
	vfs.Register("h18s-test-ckpt", &walBatchFS{VFS: counting})
	defer vfs.Unregister("h18s-test-ckpt")
	path := filepath.Join(t.TempDir(), "data.db")
	key := newKey(t)
	open := func(vfsName string) *sqlite3.Conn {
		c, err := sqlite3.OpenFlags("file:"+path+"?vfs="+vfsName, sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
		require.NoError(t, err)
		require.NoError(t, c.Exec("PRAGMA hexkey='"+hex.EncodeToString(key)+"'; PRAGMA journal_mode=wal; PRAGMA synchronous=normal; PRAGMA wal_autocheckpoint=0"))
		return c
	}
	c := open("h18s-test-ckpt")
	defer c.Close()
	require.NoError(t, c.Exec("CREATE TABLE t(v TEXT)"))
	for range 5 {
		require.NoError(t, c.Exec("PRAGMA "+walBatchPragma+"=1; BEGIN IMMEDIATE"))
		for i := range 60 {
			require.NoError(t, c.Exec(fmt.Sprintf("INSERT INTO t VALUES ('%d-%s')", i, strings.Repeat("v", 3000))))
		}
		require.NoError(t, c.Exec("COMMIT; PRAGMA "+walBatchPragma+"=0"))
	}
	st, _, err := c.Prepare("PRAGMA wal_checkpoint(PASSIVE)")
	require.NoError(t, err)
	counting.mu.Lock()
	counting.blocks = 0
	counting.mu.Unlock()
	require.True(t, st.Step())
	frames, copied := st.ColumnInt(1), st.ColumnInt(2)
	require.NoError(t, st.Close())
	require.Equal(t, frames, copied)
	require.Greater(t, frames, 250)
	blocks := counting.blocks
	t.Logf("%d frames checkpointed, %d blocks read", frames, blocks)
	require.LessOrEqual(t, blocks, frames*5/4, "about one block per frame, not two")

	require.NoError(t, c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"))
	r := open("adiantum")
	defer r.Close()
	q, _, err := r.Prepare("SELECT count(*), (SELECT group_concat(integrity_check) FROM pragma_integrity_check) FROM t")
	require.NoError(t, err)
	defer q.Close()
	require.True(t, q.Step())
	require.Equal(t, int64(300), q.ColumnInt64(0))
	require.Equal(t, "ok", q.ColumnText(1))
}

// TestWalBatchCloseDropsARunLeft: a WAL closed with frames still held
// (of a transaction that did not commit, its connection closing) writes
// none of them: the write lock is gone, and another process may have
// written where they would land.
func TestWalBatchCloseDropsARunLeft(t *testing.T) {
	mem := &memFile{}
	db := &walBatchDB{}
	w := &walBatchFile{File: mem, db: db, blockOff: -1}
	db.wal = w
	_, err := db.Pragma(walBatchPragma, "1")
	require.NoError(t, err)
	h, p := walFrame(1, false, 'a')
	_, err = w.WriteAt(h, 32)
	require.NoError(t, err)
	_, err = w.WriteAt(p, 32+walFrameHeader)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.Empty(t, mem.writes)
	require.Nil(t, db.wal)
}

// TestWalBatchCommitPageSplitBySyncIsWritten: under synchronous=FULL
// SQLite may write a commit frame's page in two parts around a sync (at a
// sector boundary): both parts reach the file before disarming, which
// would drop anything held.
func TestWalBatchCommitPageSplitBySyncIsWritten(t *testing.T) {
	mem := &memFile{}
	db := &walBatchDB{}
	w := &walBatchFile{File: mem, db: db, blockOff: -1}
	db.wal = w
	_, err := db.Pragma(walBatchPragma, "1")
	require.NoError(t, err)
	h, p := walFrame(1, true, 'a')
	_, err = w.WriteAt(h, 32)
	require.NoError(t, err)
	_, err = w.WriteAt(p[:1000], 32+walFrameHeader)
	require.NoError(t, err)
	require.NoError(t, w.Sync(0))
	_, err = w.WriteAt(p[1000:], 32+walFrameHeader+1000)
	require.NoError(t, err)
	_, err = db.Pragma(walBatchPragma, "0")
	require.NoError(t, err)
	require.Len(t, mem.data, 32+walFrameHeader+4096)
	require.Equal(t, p, mem.data[32+walFrameHeader:])
}
