package localstore

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackupRestoreVerify(t *testing.T) {
	s, master := openStore(t)
	for range 3 { // with lineage: its rows and column go with the copy
		require.NoError(t, s.WriteLogs("acme", withLineage(logsWith("acme", time.Now(), "backed-up"), "req-backup"), "v1"))
	}
	// Online: the collector goes on writing while the backup runs.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				assert.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "during"), "v1"))
			}
		}
	}()
	out := t.TempDir()
	info, err := s.Backup("acme", out, "v1")
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, "acme", info.Tenant)
	assert.GreaterOrEqual(t, info.Rows, int64(3))
	assert.False(t, bytes.Contains(must(os.ReadFile(filepath.Join(out, "acme", dbFileName))), []byte("backed-up")), "the copy is encrypted")
	_, err = s.Backup("nobody", out, "v1")
	require.ErrorIs(t, err, ErrNoTenant)

	// Restored into a fresh store under the same master key, it verifies
	// and holds the rows the backup did.
	fresh, err := Open(t.TempDir(), master)
	require.NoError(t, err)
	defer fresh.Close()
	got, err := fresh.Restore(filepath.Join(out, "acme"), "v1")
	require.NoError(t, err)
	assert.Equal(t, info.HeadHash, got.HeadHash)
	res, err := fresh.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, info.Rows, res.Rows)
	assert.Equal(t, info.HeadSeq+1, res.HeadSeq, "the restore is recorded after the backup's head")
	assert.Equal(t, [][]any{{int64(3)}}, query(t, fresh, "acme", "SELECT count(*) FROM logs WHERE body = 'backed-up'"))
	assert.Equal(t, [][]any{{int64(3)}}, query(t, fresh, "acme", "SELECT count(*) FROM logs l JOIN lineage n ON n.id = l.lineage WHERE n.lineage_id = 'req-backup'"))

	// Refused: a tenant the store holds, one it shredded, a backup whose
	// head was altered.
	_, err = fresh.Restore(filepath.Join(out, "acme"), "v1")
	assert.ErrorContains(t, err, "holds tenant acme already")
	_, err = s.Shred("acme", "erasure", "v1")
	require.NoError(t, err)
	_, err = s.Restore(filepath.Join(out, "acme"), "v1")
	assert.ErrorIs(t, err, ErrShredded)
	var desc BackupInfo
	require.NoError(t, json.Unmarshal(must(os.ReadFile(filepath.Join(out, "acme", BackupFileName))), &desc))
	desc.HeadSeq--
	require.NoError(t, os.WriteFile(filepath.Join(out, "acme", BackupFileName), must(json.Marshal(desc)), 0o600))
	other, err := Open(t.TempDir(), master)
	require.NoError(t, err)
	defer other.Close()
	_, err = other.Restore(filepath.Join(out, "acme"), "v1")
	assert.ErrorContains(t, err, "ends at seq")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
