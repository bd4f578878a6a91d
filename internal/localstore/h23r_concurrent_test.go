package localstore

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH23rIngestWhileAnotherStoreReadsBacksUpAndExpires: the collector's
// store ingests batches (blocks of rows, armed WAL runs it encrypts
// itself, checkpoints reading ahead) while a second store on the same
// directory (tenancyctl's) queries, exports, backs up (each backup
// verified: audit chain and rows, at one snapshot) and applies retention,
// deleting the table's last rows at times (batches two days old), whose
// ids the next batch takes again. Afterwards the chain verifies from both
// stores and every row written and not deleted is there once.
func TestH23rIngestWhileAnotherStoreReadsBacksUpAndExpires(t *testing.T) {
	dir, key := t.TempDir(), newKey(t)
	s, err := Open(dir, key)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.WriteLogs("acme", plog.NewLogs(), "v1"))
	c, err := Open(dir, key)
	require.NoError(t, err)
	defer c.Close()

	const minBatches, perBatch, steps = 40, 60, 12
	batches := 0
	batch := func(b int) plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", b%3))
		sl := rl.ScopeLogs().AppendEmpty()
		ts := time.Now()
		if b%4 == 1 {
			ts = ts.Add(-48 * time.Hour) // retention's, the table's last rows
		}
		for i := range perBatch {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(time.Duration(i))))
			lr.Body().SetStr(fmt.Sprintf("b%d-r%d-%s", b, i, strings.Repeat("x", 200+53*i)))
			lr.Attributes().PutInt("i", int64(i))
		}
		return ld
	}
	var wg sync.WaitGroup
	var werr, rerr error
	var mu sync.Mutex
	deleted := int64(0)
	readerDone := make(chan struct{})
	wg.Go(func() {
		// At least minBatches, and on until the other store's steps are
		// done, so each step runs while batches go in.
		for b := 0; ; b++ {
			select {
			case <-readerDone:
				if b >= minBatches && b%4 == 0 {
					batches = b
					return
				}
			default:
			}
			if werr = s.WriteLogs("acme", batch(b), "v1"); werr != nil {
				werr = fmt.Errorf("batch %d: %w", b, werr)
				return
			}
		}
	})
	wg.Go(func() {
		defer close(readerDone)
		for i := range steps {
			var err error
			switch i % 4 {
			case 0:
				_, err = c.Query(context.Background(), "acme", "SELECT count(*) FROM logs", QueryOptions{Actor: "test"}, "v1")
			case 1:
				_, err = c.Export("acme", ExportOptions{Actor: "test"}, io.Discard, "v1")
			case 2:
				_, err = c.Backup("acme", filepath.Join(t.TempDir(), "b"), "v1")
			case 3:
				var d map[policy.Signal]int64
				d, err = c.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
				mu.Lock()
				deleted += d[policy.SignalLogs]
				mu.Unlock()
			}
			if err != nil {
				rerr = fmt.Errorf("step %d: %w", i, err)
				return
			}
		}
	})
	wg.Wait()
	require.NoError(t, werr)
	require.NoError(t, rerr)
	d, err := c.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}, time.Now(), "v1")
	require.NoError(t, err)
	deleted += d[policy.SignalLogs]
	require.Equal(t, int64(batches/4*perBatch), deleted, "every old batch deleted once")
	for _, st := range []*Store{s, c} {
		_, err := st.VerifyAudit("acme")
		require.NoError(t, err)
		res, err := st.Query(context.Background(), "acme", "SELECT count(*), count(DISTINCT body), count(DISTINCT id) FROM logs", QueryOptions{Actor: "test"}, "v1")
		require.NoError(t, err)
		n := int64(batches*perBatch) - deleted
		require.Equal(t, []any{n, n, n}, res.Rows[0])
	}
	_, err = c.Backup("acme", filepath.Join(t.TempDir(), "last"), "v1")
	require.NoError(t, err)
}
