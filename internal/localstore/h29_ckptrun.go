package localstore

import (
	"strings"
)

// A checkpoint copies each WAL frame's page into the database file, one
// 4 KiB write per page, in page order. Through adiantum each is a pwrite
// of its own (and its encryption): on the local store's rows at 10
// tenants the checkpoint's writes were most of its 7 % of the collector's
// CPU, and most of that the system calls. Between SQLite's CKPT_START and
// CKPT_DONE a walBatchDB holds contiguous page writes as one run and
// writes it with runCipher (the WAL runs' writer, h18l_runwrite.go) when
// the next write is not contiguous, when the run reaches walBatchMax, and
// at CKPT_DONE: one pwrite per run instead of one per page, the same bytes
// on disk.
//
// Nothing reads the database file between a page's write and CKPT_DONE:
// SQLite's checkpoint loop reads only WAL frames, and readers never read
// from the database a page a checkpoint is copying (it copies only frames
// every reader's snapshot holds, so they read those pages from the WAL).
// CKPT_DONE comes before the checkpoint truncates and syncs the database
// and before it records the frames as copied (nBackfill), so the pages are
// written, as before, before any of that. CKPT_DONE returns no error: a
// run that fails to write there is kept as the file's error, and the
// checkpoint's Truncate or Sync (with synchronous=NORMAL, which every
// writer's connection sets and which makes the checkpoint sync) returns
// it, so SQLite abandons the checkpoint and the frames stay in the WAL.
// With synchronous=OFF a checkpoint does not sync; runs are then off.
// Any other operation on the file first writes a run still held.

// ckptRuns turns run writing on (a benchmark compares both in one run).
var ckptRuns = true

// ckptState is a walBatchDB's checkpoint run.
type ckptState struct {
	on     bool   // between CKPT_START and CKPT_DONE, with runs on
	run    []byte // pages held, starting at off
	off    int64
	err    error // a run CKPT_DONE could not write, until reported
	noSync bool  // synchronous=OFF was set: runs stay off
}

// ckptWrite holds p at off in the run; false when it is not to be held
// (no checkpoint, or runs off), the caller then writes it.
func (d *walBatchDB) ckptWrite(p []byte, off int64) (bool, error) {
	c := &d.ckpt
	if !c.on {
		return false, nil
	}
	if len(c.run) > 0 && off != c.off+int64(len(c.run)) {
		if err := d.ckptFlush(); err != nil {
			return true, err
		}
	}
	if len(c.run) == 0 {
		if c.run == nil {
			c.run = walBatchBuf()
		}
		c.off = off
	}
	c.run = append(c.run, p...)
	if len(c.run) >= walBatchMax {
		return true, d.ckptFlush()
	}
	return true, nil
}

// ckptFlush writes the run held.
func (d *walBatchDB) ckptFlush() error {
	c := &d.ckpt
	if len(c.run) == 0 {
		return nil
	}
	var cipher *runCipher // nil: the run in one write to d.File, which encrypts
	if d.direct {
		cipher = d.cipher
	}
	err := cipher.writeRun(d.File, c.run, c.off)
	c.run = c.run[:0]
	return err
}

// ckptStart is CKPT_START: runs on unless the connection does not sync.
func (d *walBatchDB) ckptStart() {
	d.ckpt.err = nil
	d.ckpt.on = ckptRuns && !d.ckpt.noSync
}

// ckptDone is CKPT_DONE: the run is written (or its error kept for the
// checkpoint's Truncate and Sync), and its buffer goes back, cleared.
func (d *walBatchDB) ckptDone() {
	c := &d.ckpt
	if !c.on {
		return
	}
	c.on = false
	if err := d.ckptFlush(); err != nil {
		c.err = err
	}
	d.ckptRelease()
}

// ckptRelease returns the run's buffer to the free list.
func (d *walBatchDB) ckptRelease() {
	c := &d.ckpt
	if c.run == nil {
		return
	}
	b := c.run[:cap(c.run)]
	c.run = nil
	clear(b)
	if cap(b) <= walBatchMax+64<<10 {
		walBatchBufs.Put(b[:0])
	}
}

// ckptBefore is what any other operation on the database file does first:
// report, once, the run CKPT_DONE could not write (the first operation
// after it is the checkpoint's Truncate or Sync, which abandons the
// checkpoint; later ones go on as usual), or write a run still held.
func (d *walBatchDB) ckptBefore() error {
	if err := d.ckpt.err; err != nil {
		d.ckpt.err = nil
		return err
	}
	return d.ckptFlush()
}

// ckptPragma notes synchronous=OFF (runs off: the checkpoint would not
// sync, so nothing could report a run's failure) and back.
func (d *walBatchDB) ckptPragma(name, value string) {
	if strings.EqualFold(name, "synchronous") && value != "" {
		v := strings.ToLower(value)
		d.ckpt.noSync = v == "0" || v == "off"
	}
}
