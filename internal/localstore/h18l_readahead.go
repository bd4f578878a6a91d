package localstore

import (
	"bytes"
	"encoding/binary"
	"sync"

	"github.com/ncruces/go-sqlite3/vfs"
)

// A checkpoint reads each WAL frame's page: through adiantum, one pread
// per 4 KiB block, and a shared fcntl lock and unlock around each block
// the read covers only in part (every frame's two blocks), three system
// calls per frame. During a checkpoint, walBatchFile instead reads the
// WAL in chunks of up to readAheadMax with one pread and decrypts them
// with adiantum's cipher (runCipher), when the blocks are below the end
// of the last commit frame this connection wrote, and the WAL's header
// on disk is still the one it wrote at its last restart. Such blocks hold
// only committed frames (this connection's, or another process's
// committed between them): no writer writes there until the WAL restarts,
// which cannot happen while a checkpoint has frames left to copy. The
// block holding the end of the last commit frame, which another process
// appending frames may be rewriting, and everything past it, are read as
// before, under adiantum's lock.

// readAheadMax bounds a chunk; its buffer is held only during a
// checkpoint.
const readAheadMax = 256 << 10

var readAheadBufs = sync.Pool{New: func() any { b := make([]byte, readAheadMax); return &b }}

// walHeader is the size of the WAL's header.
const walHeader = 32

// walTrack is what walBatchFile knows of the WAL it wrote.
type walTrack struct {
	hdr      [walHeader]byte
	hdrKnown bool  // hdr is the header this connection wrote last
	inCommit bool  // since a commit frame's header
	safeEnd  int64 // end of the last commit frame this connection wrote

	raOK  bool // the checkpoint may read ahead
	ra    []byte
	raOff int64
	raBuf *[]byte
}

// track notes a write to the WAL (in the order SQLite makes them, held
// or not).
func (w *walBatchFile) track(p []byte, off int64) {
	w.t.ra = w.t.ra[:0]
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
	w.t.ra = w.t.ra[:0]
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

// stopReadAhead is called as a checkpoint ends: the buffer goes back.
func (w *walBatchFile) stopReadAhead() {
	w.t.raOK = false
	w.t.ra = nil
	if w.t.raBuf != nil {
		// A tenant's decrypted WAL does not wait in the pool for another's
		// checkpoint (which would overwrite it before reading, but still).
		clear(*w.t.raBuf)
		readAheadBufs.Put(w.t.raBuf)
		w.t.raBuf = nil
	}
}

// readAhead reads p at off from a decrypted chunk; false if it may not.
func (w *walBatchFile) readAhead(p []byte, off int64) (int, bool) {
	end := off + int64(len(p))
	safe := w.t.safeEnd &^ (walBlock - 1)
	if !w.t.raOK || end > safe {
		return 0, false
	}
	if off < w.t.raOff || end > w.t.raOff+int64(len(w.t.ra)) {
		under, ok := w.File.(vfs.FileUnwrap)
		if !ok {
			return 0, false
		}
		if w.t.raBuf == nil {
			w.t.raBuf = readAheadBufs.Get().(*[]byte)
		}
		start := off &^ (walBlock - 1)
		buf := (*w.t.raBuf)[:min(readAheadMax, safe-start)]
		if int64(len(buf)) < end-start {
			return 0, false
		}
		if n, err := under.Unwrap().ReadAt(buf, start); err != nil || n != len(buf) {
			w.t.ra = w.t.ra[:0]
			return 0, false
		}
		c := w.db.cipher
		for i := 0; i < len(buf); i += walBlock {
			binary.LittleEndian.PutUint64(c.tweak[:], uint64(start+int64(i)))
			c.hbsh.Decrypt(buf[i:i+walBlock], c.tweak[:])
		}
		readAheadBlocks.Add(int64(len(buf) / walBlock))
		w.t.ra, w.t.raOff = buf, start
	}
	return copy(p, w.t.ra[off-w.t.raOff:]), true
}
