package localstore

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The WAL runs' buffers outlive garbage collections between transactions:
// in a sync.Pool, as before, a collection between two ingests lost the
// buffer and the next transaction allocated and zeroed another half
// megabyte.
func TestRunBuffersOutliveCollections(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "one"), "v1"))
	runtime.GC()
	runtime.GC()
	before := walBatchBufs.Len()
	assert.Positive(t, before, "no run buffer kept after a collection")
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", now, "two"), "v1"))
	assert.Equal(t, before, walBatchBufs.Len(), "the second transaction's buffer did not come back")
	require.LessOrEqual(t, walBatchBufs.Len(), walBatchBufs.Max)
}
