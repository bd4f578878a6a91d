package otlpbuf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// TestH29rSmallRequestsPinWholeClasses: the router counts a queued batch
// at len(Bytes()) against queue_bytes and total_queue_bytes, and the
// README says the buffer "is rounded up by less than a quarter". Below
// 4 KiB it is not: every request, however small, holds a 4 KiB buffer
// while queued. At 10,000 tenants a pipeline batch splits into parts of
// a record or two each, so a backend outage fills every queue
// (queue_size 100) with such parts: a million batches counted at about
// 100 MB against total_queue_bytes pin about 4 GiB.
func TestH29rSmallRequestsPinWholeClasses(t *testing.T) {
	require.True(t, fast.ok, "fast path off: nothing is pooled (TestFastPathOn)")
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("one small record")
	const batches = 1000
	var counted, pinned int
	bufs := make([]*Buf, 0, batches)
	for range batches {
		b, err := MarshalLogs(ld)
		if err != nil {
			t.Fatal(err)
		}
		bufs = append(bufs, b)
		counted += len(b.Bytes())
		pinned += cap(b.mem)
	}
	for _, b := range bufs {
		b.Drop()
	}
	t.Logf("%d queued one-record requests: %d bytes counted, %d bytes pinned (%.0fx)", batches, counted, pinned, float64(pinned)/float64(counted))
	assert.LessOrEqual(t, pinned, counted*5/4, "a pooled request holds more than a quarter above what the queues count")
}
