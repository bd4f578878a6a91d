package localstore

import (
	"testing"
	"time"
)

// TestH18sReadAheadDecryptsEachBlockOnce: a checkpoint copies the WAL's
// frames in page order, jumping to the last frame of each page a later
// commit rewrote and back. Under bench-e2e's load the read-ahead read a
// chunk again at each jump and decrypted it whole: here 3.9 decryptions
// and 4.0 blocks read per WAL block written (4.6 and 4.8 over 200
// batches). Each block it reads is now decrypted once per chunk read,
// and a jump keeps the chunk it left: 0.92 and 2.0.
func TestH18sReadAheadDecryptsEachBlockOnce(t *testing.T) {
	s, _ := openStore(t)
	ld := e2eLikeLogs(true, 10) // 1,000-record batches: more commits per checkpoint, more jumps
	written, decrypted, chunks := runBlocks.Load(), readAheadBlocks.Load(), readAheadChunks.Load()
	for range 60 {
		restamp(ld, time.Now())
		if err := s.WriteLogs("tenant-0000", ld, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	written, decrypted, chunks = runBlocks.Load()-written, readAheadBlocks.Load()-decrypted, readAheadChunks.Load()-chunks
	read := chunks * readAheadMax / walBlock
	t.Logf("WAL blocks written %d, decrypted by read-ahead %d, read ahead %d (%d chunks)", written, decrypted, read, chunks)
	if decrypted == 0 {
		t.Fatal("no checkpoint read ahead")
	}
	if decrypted > written*5/4 {
		t.Errorf("read-ahead decrypted %d blocks for %d written", decrypted, written)
	}
	if read > 3*written {
		t.Errorf("read-ahead read %d blocks for %d written", read, written)
	}
	if _, err := s.VerifyAudit("tenant-0000"); err != nil {
		t.Fatal(err)
	}
}
