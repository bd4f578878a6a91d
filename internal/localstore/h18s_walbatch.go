package localstore

import (
	"encoding/binary"

	"github.com/ncruces/go-sqlite3/util/vfsutil"
	"github.com/ncruces/go-sqlite3/vfs"
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum" // registers "adiantum"

	"github.com/tenancyhq/tenancy/internal/freelist"
)

// The encrypting VFS (adiantum) encrypts files in 4 KiB blocks, but a WAL
// frame is a 24-byte header and a 4 KiB page at offset 32 + k×4120: no
// frame lines up with the blocks. SQLite writes the header and the page
// separately, so each frame cost the VFS three partial-block writes, each
// a read, a decryption, an encryption, a write and an fcntl lock and
// unlock of the block (other processes' readers may read the block's
// other bytes meanwhile): that was a third of the store's write CPU.
//
// walBatchVFS is adiantum with one change: while a transaction of ingest
// is armed (PRAGMA tenancy_wal_batch), the WAL's writes are held in
// memory as one contiguous run and handed to adiantum in one call when
// the commit frame is complete, so each block is encrypted and written
// once, and only the run's first and last blocks are partial. The bytes
// on disk are the same as adiantum writes them (same file format, same
// key and tweaks): a store written so opens with adiantum, and back.
//
// Durability is unchanged. The run is written before SQLite publishes the
// commit in the WAL index and before COMMIT returns, as each frame was
// before, so a process killed after COMMIT loses nothing (the frames are
// in the OS's page cache; as before, with synchronous=NORMAL, only an OS
// crash or power loss can lose the last commits, never corrupt the
// database). Any other operation on the WAL (a read, a sync, a size, a
// truncate, a write that is not contiguous) first writes the run, so this
// connection and SQLite always see the file as written in order. Frames
// of a transaction that rolls back are dropped when it is disarmed: they
// lie past the WAL's last commit, where only the writer holding the WAL
// write lock may write, which this connection no longer is.
const walBatchVFS = "tenancy-adiantum"

// walBatchPragma arms (1) and disarms (0) the main database's WAL.
const walBatchPragma = "tenancy_wal_batch"

// walBatchMax bounds the run held in memory; a longer transaction is
// written in runs of about this size (its edges partial blocks).
const walBatchMax = 512 << 10

// walFrameHeader is the size of a WAL frame's header.
const walFrameHeader = 24

func init() {
	vfs.Register(walBatchVFS, &walBatchFS{VFS: vfs.Find("adiantum"), direct: true})
}

// walBatchFS: direct when its VFS is adiantum itself, so a WAL's file is
// adiantum's and the one it unwraps to is the file adiantum writes
// (runCipher); tests put counting layers between.
type walBatchFS struct {
	vfs.VFS
	direct bool
}

func (v *walBatchFS) Open(name string, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	return vfsutil.WrapOpen(v.VFS, name, flags)
}

func (v *walBatchFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	f, flags, err := vfsutil.WrapOpenFilename(v.VFS, name, flags)
	if err != nil {
		return f, flags, err
	}
	switch {
	case flags&vfs.OPEN_MAIN_DB != 0:
		return &walBatchDB{File: f}, flags, nil
	case flags&vfs.OPEN_WAL != 0:
		if db, ok := vfsutil.UnwrapFile[*walBatchDB](name.DatabaseFile()); ok {
			w := &walBatchFile{File: f, db: db, blockOff: -1, direct: v.direct}
			db.wal = w
			return w, flags, nil
		}
	}
	return f, flags, nil
}

// walBatchDB is a main database file: it carries the arming pragma to its
// WAL and forwards everything else to adiantum's file. SQLite calls a
// connection's files from one goroutine at a time.
type walBatchDB struct {
	vfs.File
	wal   *walBatchFile
	armed bool
	// cipher is adiantum's for the key the connection gave (nil: none
	// yet, or one given otherwise than by hexkey): runs of whole blocks
	// are encrypted and written with it (h18l_runwrite.go).
	cipher *runCipher
}

func (d *walBatchDB) Pragma(name, value string) (string, error) {
	if name != walBatchPragma {
		r, err := vfsutil.WrapPragma(d.File, name, value)
		switch name {
		case "key", "hexkey", "textkey":
			d.cipher = nil
			if name == "hexkey" && err == nil {
				d.cipher = newRunCipher(value)
			}
		}
		return r, err
	}
	switch value {
	case "1":
		d.armed = true
	case "0":
		d.armed = false
		if d.wal != nil {
			d.wal.drop()
		}
	case walBatchForget:
		// A COMMIT failed: the commit frame it wrote may not be in the WAL
		// index, so what the checkpoint's read-ahead takes for committed
		// may be rewritten by the next writer (h18l_readahead.go).
		if d.wal != nil {
			d.wal.forget()
		}
	default:
		return "", errWalBatchValue
	}
	return "", nil
}

// walBatchForget is the pragma's value after a failed COMMIT.
const walBatchForget = "forget"

var errWalBatchValue = vfsError("tenancy_wal_batch is 0, 1 or forget")

type vfsError string

func (e vfsError) Error() string { return string(e) }

func (d *walBatchDB) Unwrap() vfs.File               { return d.File }
func (d *walBatchDB) SharedMemory() vfs.SharedMemory { return vfsutil.WrapSharedMemory(d.File) }
func (d *walBatchDB) LockState() vfs.LockLevel       { return vfsutil.WrapLockState(d.File) }
func (d *walBatchDB) ChunkSize(size int)             { vfsutil.WrapChunkSize(d.File, size) }
func (d *walBatchDB) SizeHint(size int64) error      { return vfsutil.WrapSizeHint(d.File, size) }
func (d *walBatchDB) HasMoved() (bool, error)        { return vfsutil.WrapHasMoved(d.File) }
func (d *walBatchDB) Overwrite() error               { return vfsutil.WrapOverwrite(d.File) }
func (d *walBatchDB) SyncSuper(super string) error   { return vfsutil.WrapSyncSuper(d.File, super) }
func (d *walBatchDB) CommitPhaseTwo() error          { return vfsutil.WrapCommitPhaseTwo(d.File) }
func (d *walBatchDB) BeginAtomicWrite() error        { return vfsutil.WrapBeginAtomicWrite(d.File) }
func (d *walBatchDB) CommitAtomicWrite() error       { return vfsutil.WrapCommitAtomicWrite(d.File) }
func (d *walBatchDB) RollbackAtomicWrite() error     { return vfsutil.WrapRollbackAtomicWrite(d.File) }

// CheckpointStart and CheckpointDone bracket SQLite's copy of WAL frames
// into the database: the WAL's reads share decrypted blocks meanwhile.
func (d *walBatchDB) CheckpointStart() {
	if d.wal != nil {
		d.wal.checkpoint(true)
	}
	vfsutil.WrapCheckpointStart(d.File)
}

func (d *walBatchDB) CheckpointDone() {
	if d.wal != nil {
		d.wal.checkpoint(false)
	}
	vfsutil.WrapCheckpointDone(d.File)
}
func (d *walBatchDB) BusyHandler(handler func() bool) { vfsutil.WrapBusyHandler(d.File, handler) }

// walBatchFile is a WAL file that holds an armed transaction's writes as
// one run (buf, starting at off) until its commit frame is written.
type walBatchFile struct {
	vfs.File
	db  *walBatchDB
	buf []byte
	off int64
	// direct: File is adiantum's (walBatchFS.direct).
	direct bool
	// t: what a checkpoint may read ahead (h18l_readahead.go).
	t walTrack
	// commit is set from a commit frame's header to the next frame's
	// header: writes are not held meanwhile.
	commit bool
	// During a checkpoint (ckpt), block is the decrypted block at
	// blockOff (-1: none); shm locks blocks read partly (readBlocks).
	ckpt     bool
	block    [walBlock]byte
	blockOff int64
	shm      vfs.SharedMemory
}

// walBatchBufs keeps the runs' buffers between transactions, across
// garbage collections (a sync.Pool lost them at almost every one: half a
// megabyte allocated and zeroed per transaction, docs/benchmarks.md).
// Four buffers, 2.3 MB, at most are kept idle.
var walBatchBufs = freelist.List{Max: 4}

// walBatchBuf is a buffer for a run, empty.
func walBatchBuf() []byte {
	if b := walBatchBufs.Get(); b != nil {
		return b[:0]
	}
	return make([]byte, 0, walBatchMax+64<<10)
}

func (w *walBatchFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := w.writeAt(p, off)
	if err != nil {
		w.forget()
	} else {
		w.track(p, off)
	}
	return n, err
}

func (w *walBatchFile) writeAt(p []byte, off int64) (int, error) {
	w.blockOff = -1
	if !w.db.armed {
		if err := w.flush(); err != nil {
			return 0, err
		}
		return w.File.WriteAt(p, off)
	}
	if w.buf == nil {
		w.buf = walBatchBuf()
	}
	end := w.off + int64(len(w.buf))
	switch {
	case len(w.buf) == 0:
		w.off = off
		w.buf = append(w.buf, p...)
	case off == end:
		w.buf = append(w.buf, p...)
	case off >= w.off && off+int64(len(p)) <= end:
		copy(w.buf[off-w.off:], p) // a frame of this transaction rewritten
	default:
		if err := w.flush(); err != nil {
			return 0, err
		}
		w.off = off
		w.buf = append(w.buf, p...)
	}
	if len(p) == walFrameHeader {
		w.commit = binary.BigEndian.Uint32(p[4:8]) != 0
	}
	// From a commit frame's header until the next frame's, every write is
	// written at once: the commit frame's header and page (split in two
	// around a sync under synchronous=FULL), padding frames after it, and
	// the headers walRewriteChecksums rewrites at a commit (a transaction
	// that spilled frames and then wrote a page over one rewrites the
	// checksums of the frames from there on, a read and a header each, the
	// commit frame's last, and nothing reads or writes the WAL after it
	// before COMMIT returns). Held, disarming would drop them, and a crash
	// would lose the transaction and every later one in the WAL
	// (TestHostileReview3SpilledCommitSurvivesACrash). The next
	// transaction's first frame header clears it.
	if w.commit || len(w.buf) >= walBatchMax {
		if err := w.flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes the run.
func (w *walBatchFile) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	var c *runCipher
	if w.direct {
		c = w.db.cipher
	}
	err := c.writeRun(w.File, w.buf, w.off)
	w.buf = w.buf[:0]
	return err
}

// drop forgets the run (a transaction that did not commit) and returns
// the buffer.
func (w *walBatchFile) drop() {
	w.commit = false
	if w.buf != nil {
		// A run still held is a rolled-back transaction's plaintext: it
		// does not wait in the pool all tenants share.
		clear(w.buf)
		b := w.buf[:0]
		w.buf = nil
		if cap(b) <= walBatchMax+64<<10 {
			walBatchBufs.Put(b)
		}
	}
}

func (w *walBatchFile) ReadAt(p []byte, off int64) (int, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	if w.ckpt {
		if n, ok := w.readAhead(p, off); ok {
			return n, nil
		}
		if n, ok := w.readBlocks(p, off); ok {
			return n, nil
		}
	}
	return w.File.ReadAt(p, off)
}

// A checkpoint reads every frame's page, 4 KiB at 32 + k×4120 + 24: two
// blocks each, the second of which is the first of the next frame's page.
// adiantum would read and decrypt both, taking a shared fcntl lock around
// each (both partly outside the page). During a checkpoint the WAL keeps
// the last block it decrypted: SQLite copies only frames committed before
// the checkpoint began, which no writer rewrites until it ends, so the
// bytes a later read takes from that block are the same; only a writer's
// partial rewrite of the block at the WAL's end may change its other
// bytes, which no read of the checkpoint asks for. A block read partly
// outside the request is read under the same shared lock as adiantum's.
const walBlock = 4096

func (w *walBatchFile) checkpoint(on bool) {
	w.ckpt, w.blockOff = on, -1
	if on && w.shm == nil {
		w.shm = vfsutil.WrapSharedMemory(w.db.File)
	}
	if on {
		w.startReadAhead()
	} else {
		w.stopReadAhead()
	}
}

// readBlocks reads p at off from whole decrypted blocks; false if a block
// could not be read whole (the caller then reads as adiantum does).
func (w *walBatchFile) readBlocks(p []byte, off int64) (int, bool) {
	n := 0
	end := off + int64(len(p))
	for blk := off &^ (walBlock - 1); blk < end; blk += walBlock {
		if blk != w.blockOff {
			w.blockOff = -1
			partial := blk < off || blk+walBlock > end
			if partial && w.shm != nil {
				if w.shm.IOLock(vfs.LOCK_SHARED, blk) != nil {
					return 0, false
				}
			}
			m, _ := w.File.ReadAt(w.block[:], blk)
			if partial && w.shm != nil {
				_ = w.shm.IOLock(vfs.LOCK_NONE, blk)
			}
			if m != walBlock {
				return 0, false
			}
			w.blockOff = blk
		}
		n += copy(p[n:], w.block[max(off, blk)-blk:min(end, blk+walBlock)-blk])
	}
	return n, true
}

func (w *walBatchFile) Truncate(size int64) error {
	w.blockOff = -1
	w.forget()
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Truncate(size)
}

func (w *walBatchFile) Sync(flags vfs.SyncFlag) error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Sync(flags)
}

func (w *walBatchFile) Size() (int64, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.File.Size()
}

// Close drops a run still held, never writes it: SQLite closes the WAL
// only with its connection, outside any transaction, and a committed
// run was written at its commit frame, so a run left is one of a
// transaction that did not commit, and this connection no longer holds
// the WAL write lock that would make writing it safe.
func (w *walBatchFile) Close() error {
	w.drop()
	if w.db.wal == w {
		w.db.wal = nil
	}
	return w.File.Close()
}

func (w *walBatchFile) Unwrap() vfs.File { return w.File }

func (w *walBatchFile) ChunkSize(size int) { vfsutil.WrapChunkSize(w.File, size) }

func (w *walBatchFile) SizeHint(size int64) error {
	if err := w.flush(); err != nil {
		return err
	}
	return vfsutil.WrapSizeHint(w.File, size)
}
