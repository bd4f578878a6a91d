package localstore

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3/vfs"
	"lukechampine.com/adiantum"
	"lukechampine.com/adiantum/hbsh"
)

// adiantum encrypts and writes a file one 4 KiB block at a time: one
// pwrite per block, and a system call costs far more than encrypting the
// block. An ingest transaction's WAL run (walBatchFile) is mostly whole
// blocks; runCipher encrypts those as adiantum does (its cipher, built
// from the same key, and its tweak, the block's offset) and writes them
// to the file under adiantum in one call. The run's partial first and
// last blocks still go through adiantum, which reads, merges and writes
// them under its block lock, in order: first block, whole blocks, last
// block, as adiantum would, so the commit frame is still written last.
// The bytes on disk are the ones adiantum writes.
type runCipher struct {
	hbsh  *hbsh.HBSH
	tweak [8]byte
}

// newRunCipher is the cipher adiantum builds from PRAGMA hexkey (nil if
// it would not take the key).
func newRunCipher(hexkey string) *runCipher {
	key, err := hex.DecodeString(hexkey)
	if err != nil || len(key) != 32 {
		return nil
	}
	return &runCipher{hbsh: adiantum.New(key)}
}

// writeRun writes run at off through enc (adiantum's file), its whole
// blocks encrypted here (in place: run is spent) and written to the file
// under enc in one call.
func (c *runCipher) writeRun(enc vfs.File, run []byte, off int64) error {
	under, ok := enc.(vfs.FileUnwrap)
	first := (off + walBlock - 1) &^ (walBlock - 1)
	last := (off + int64(len(run))) &^ (walBlock - 1)
	if c == nil || !ok || last-first < 2*walBlock {
		return writeAll(enc, run, off)
	}
	if err := writeAll(enc, run[:first-off], off); err != nil {
		return err
	}
	whole := run[first-off : last-off]
	for i := 0; i < len(whole); i += walBlock {
		binary.LittleEndian.PutUint64(c.tweak[:], uint64(first+int64(i)))
		c.hbsh.Encrypt(whole[i:i+walBlock], c.tweak[:])
	}
	if err := writeAll(under.Unwrap(), whole, first); err != nil {
		return err
	}
	runBlocks.Add(int64(len(whole) / walBlock))
	return writeAll(enc, run[last-off:], last)
}

// runBlocks and readAheadBlocks count the blocks writeRun encrypted and
// readAhead decrypted, readAheadChunks the chunks readAhead read (tests).
var runBlocks, readAheadBlocks, readAheadChunks atomic.Int64

func writeAll(f vfs.File, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	n, err := f.WriteAt(p, off)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	return err
}
