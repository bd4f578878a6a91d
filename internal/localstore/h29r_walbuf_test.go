package localstore

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestH29rRunBufferKeepsNoReadablePlaintext: drop clears a run buffer
// before it goes back to the list every tenant shares only up to its
// length, which flush cut to zero when the commit frame wrote the run, so
// a committed run's bytes stay in the capacity for as long as the free
// list keeps the buffer (a sync.Pool let them go within two collections).
// What stays is not readable: the rows are sealed under the tenant's data
// key before SQLite sees them and the run's whole blocks were encrypted in
// place; neither the record, its attributes nor the tenant's name is
// there, before or after the tenant is shredded. (Passes: the review's
// check that the longer retention exposes nothing.)
func TestH29rRunBufferKeepsNoReadablePlaintext(t *testing.T) {
	s, _ := openStore(t)
	const marker = "h29r-acme-secret-card-4111111111111111"
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), marker), "v1"))
	check := func(when string) {
		var bufs [][]byte
		for b := walBatchBufs.Get(); b != nil; b = walBatchBufs.Get() {
			bufs = append(bufs, b)
			for _, w := range []string{marker, marker + "-order", "acme", "shop"} {
				assert.False(t, bytes.Contains(b[:cap(b)], []byte(w)), "%s: %q in a shared run buffer", when, w)
			}
		}
		for _, b := range bufs {
			walBatchBufs.Put(b)
		}
		require.NotEmpty(t, bufs, "no run buffer kept")
	}
	check("after the write")
	_, err := s.Shred("acme", "test", "v1")
	require.NoError(t, err)
	check("after the shred")
}
