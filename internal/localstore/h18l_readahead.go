package localstore

import (
	"bytes"
	"encoding/binary"

	"github.com/ncruces/go-sqlite3/vfs"

	"github.com/tenancyhq/tenancy/internal/freelist"
)

// A checkpoint reads each WAL frame's page: through adiantum, one pread
// per 4 KiB block, and a shared fcntl lock and unlock around each block
// the read covers only in part (every frame's two blocks), three system
// calls per frame. During a checkpoint, walBatchFile instead reads the
// WAL in chunks of up to readAheadMax with one pread and decrypts the
// blocks it reads with adiantum's cipher (runCipher), when the blocks
// are below the end of the last commit frame this connection wrote, and
// the WAL's header on disk is still the one it wrote at its last
// restart. Such blocks hold only committed frames (this connection's, or
// another process's committed between them): no writer writes there
// until the WAL restarts, which cannot happen while a checkpoint has
// frames left to copy. The block holding the end of the last commit
// frame, which another process appending frames may be rewriting, and
// everything past it, are read as before, under adiantum's lock.

// readAheadMax bounds a chunk; a checkpoint's raChunks buffers are held
// only while it runs.
const readAheadMax = 256 << 10

// readAheadBufs keeps the chunks' buffers between checkpoints, across
// garbage collections (see walBatchBufs): 1 MB at most idle.
var readAheadBufs = freelist.List{Max: 4}

// readAheadBuf is a chunk's buffer.
func readAheadBuf() *[]byte {
	b := readAheadBufs.Get()
	if b == nil {
		b = make([]byte, readAheadMax)
	}
	return &b
}

// walHeader is the size of the WAL's header.
const walHeader = 32

// walTrack is what walBatchFile knows of the WAL it wrote.
type walTrack struct {
	hdr      [walHeader]byte
	hdrKnown bool  // hdr is the header this connection wrote last
	inCommit bool  // since a commit frame's header
	safeEnd  int64 // end of the last commit frame this connection wrote

	raOK bool // the checkpoint may read ahead
	// The chunks read ahead, and a clock of their use. SQLite copies
	// frames in page order, so a checkpoint jumps between chunks (to the
	// last frame of each page a later commit rewrote) and comes back:
	// with one chunk, each jump read a chunk again and decrypted it whole:
	// 4.6 block decryptions and 4.8 blocks read per WAL block written
	// under bench-e2e's load (200 of BenchmarkWriteLogsE2E's batches). A
	// jump now keeps the chunk it left, and a chunk's blocks are decrypted
	// as they are read: 0.96 and 2.3.
	ra    [raChunks]raChunk
	raUse uint64 // a clock for choosing the chunk used longest ago
}

// raChunks is how many chunks a checkpoint keeps.
const raChunks = 2

// raChunk is a chunk of the WAL as read, its blocks decrypted where dec
// says (bit i: block i).
type raChunk struct {
	b    []byte
	off  int64
	buf  *[]byte
	dec  uint64
	used uint64 // raUse when last read
}

// A chunk's blocks fit dec's bits.
const _ = uint(64 - readAheadMax/walBlock)

// dropChunks forgets what was read ahead (the buffers stay).
func (t *walTrack) dropChunks() {
	for i := range t.ra {
		t.ra[i].b = t.ra[i].b[:0]
	}
}

// track notes a write to the WAL (in the order SQLite makes them, held
// or not).
func (w *walBatchFile) track(p []byte, off int64) {
	w.t.dropChunks()
	switch {
	case off == 0 && len(p) == walHeader: // a restart
		copy(w.t.hdr[:], p)
		w.t.hdrKnown, w.t.inCommit, w.t.safeEnd = true, false, 0
	case len(p) == walFrameHeader:
		w.t.inCommit = binary.BigEndian.Uint32(p[4:8]) != 0
		fallthrough
	default:
		if w.t.inCommit {
			w.t.safeEnd = max(w.t.safeEnd, off+int64(len(p)))
		}
	}
}

// forget stops read-ahead until the next restart this connection writes
// (a write failed, the file was truncated).
func (w *walBatchFile) forget() {
	w.t.hdrKnown, w.t.inCommit, w.t.safeEnd = false, false, 0
	w.t.dropChunks()
}

// startReadAhead is called as a checkpoint starts.
func (w *walBatchFile) startReadAhead() {
	w.t.raOK = false
	if !w.direct || w.db.cipher == nil || !w.t.hdrKnown || w.t.safeEnd <= walBlock {
		return
	}
	if err := w.flush(); err != nil {
		return
	}
	var hdr [walHeader]byte
	if n, err := w.File.ReadAt(hdr[:], 0); err != nil || n != walHeader || !bytes.Equal(hdr[:], w.t.hdr[:]) {
		return
	}
	w.t.raOK = true
}

// stopReadAhead is called as a checkpoint ends: the buffers go back.
func (w *walBatchFile) stopReadAhead() {
	w.t.raOK = false
	for i := range w.t.ra {
		c := &w.t.ra[i]
		c.b = nil
		if c.buf != nil {
			// A tenant's decrypted WAL does not wait in the pool for
			// another's checkpoint (which would overwrite it before
			// reading, but still).
			clear(*c.buf)
			readAheadBufs.Put(*c.buf)
			c.buf = nil
		}
	}
}

// readAhead reads p at off from a chunk; false if it may not.
func (w *walBatchFile) readAhead(p []byte, off int64) (int, bool) {
	end := off + int64(len(p))
	safe := w.t.safeEnd &^ (walBlock - 1)
	if !w.t.raOK || end > safe {
		return 0, false
	}
	k := -1
	for i := range w.t.ra {
		if c := &w.t.ra[i]; off >= c.off && end <= c.off+int64(len(c.b)) {
			k = i
			break
		}
	}
	if k < 0 {
		under, ok := w.File.(vfs.FileUnwrap)
		if !ok {
			return 0, false
		}
		k = 0 // the chunk used longest ago
		for i := range w.t.ra {
			if w.t.ra[i].used < w.t.ra[k].used {
				k = i
			}
		}
		c := &w.t.ra[k]
		if c.buf == nil {
			c.buf = readAheadBuf()
		}
		start := off &^ (walBlock - 1)
		buf := (*c.buf)[:min(readAheadMax, safe-start)]
		if int64(len(buf)) < end-start {
			return 0, false
		}
		if n, err := under.Unwrap().ReadAt(buf, start); err != nil || n != len(buf) {
			c.b = c.b[:0]
			return 0, false
		}
		c.b, c.off, c.dec = buf, start, 0
		readAheadChunks.Add(1)
	}
	w.t.raUse++
	c := &w.t.ra[k]
	c.used = w.t.raUse
	if len(p) == 0 {
		return 0, true
	}
	ci := w.db.cipher
	for i := (off - c.off) / walBlock; i <= (end-1-c.off)/walBlock; i++ {
		if c.dec&(1<<i) != 0 {
			continue
		}
		at := i * walBlock
		binary.LittleEndian.PutUint64(ci.tweak[:], uint64(c.off+at))
		ci.hbsh.Decrypt(c.b[at:at+walBlock], ci.tweak[:])
		c.dec |= 1 << i
		readAheadBlocks.Add(1)
	}
	return copy(p, c.b[off-c.off:]), true
}
