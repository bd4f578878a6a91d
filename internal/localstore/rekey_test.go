package localstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dataKeyOf unwraps the tenant's current data key from its key file.
func dataKeyOf(t *testing.T, s *Store, tenant string) []byte {
	t.Helper()
	kf, err := readKeyFile(filepath.Join(s.Dir(), tenant), tenant)
	require.NoError(t, err)
	k, err := unwrapKeys(s.master, kf)
	require.NoError(t, err)
	return k.data
}

func rotate(s *Store, tenant string) error {
	_, _, err := s.RotateDataKey(tenant, "v1")
	return err
}

func TestRotateDataKey(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a", "b"), "v1"))
	require.NoError(t, s.WriteMetrics("acme", metricsWith("acme", time.Now(), "m"), "v1"))
	require.NoError(t, s.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1"))
	before := query(t, s, "acme", "SELECT body FROM logs ORDER BY body")
	sealed, err := s.Seal("acme", []byte("queue"), []byte("batch sealed before"))
	require.NoError(t, err)
	anchors, err := s.Anchors(time.Now())
	require.NoError(t, err)
	require.NotEmpty(t, anchors)
	require.NoError(t, s.AppendAnchors(anchors))
	oldKey := dataKeyOf(t, s, "acme")
	globexKey := dataKeyOf(t, s, "globex")

	require.NoError(t, rotate(s, "acme"))

	rotatedKey := dataKeyOf(t, s, "acme")
	assert.NotEqual(t, oldKey, rotatedKey)
	assert.Equal(t, globexKey, dataKeyOf(t, s, "globex"), "one tenant at a time")
	db := filepath.Join(s.Dir(), "acme", dbFileName)
	_, err = openConn(db, oldKey, true)
	require.Error(t, err, "the old data key no longer opens the database")
	conn, err := openConn(db, rotatedKey, true)
	require.NoError(t, err)
	conn.Close()

	assert.Equal(t, before, query(t, s, "acme", "SELECT body FROM logs ORDER BY body"), "same rows")
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	f, err := os.Open(AnchorLog(s.Dir()))
	require.NoError(t, err)
	defer f.Close()
	n, err := s.CheckAnchors("acme", res, f)
	require.NoError(t, err, "the chain keeps its key: anchors before the rotation still hold")
	assert.Positive(t, n)
	log, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	assert.Equal(t, "data_key_rotation", log[len(log)-2].Kind, "then the query's entry")

	// Writes go on under the new key, in this store and in a fresh one.
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "c"), "v1"))
	other, err := Open(s.Dir(), s.master)
	require.NoError(t, err)
	defer other.Close()
	assert.Len(t, query(t, other, "acme", "SELECT body FROM logs"), 3)
	_, err = other.VerifyAudit("acme")
	require.NoError(t, err)
	// A batch sealed before the rotation still opens; new ones use the new key.
	plain, err := other.Unseal("acme", []byte("queue"), sealed)
	require.NoError(t, err)
	assert.Equal(t, "batch sealed before", string(plain))

	// A second rotation keeps both retired seal keys. other holds acme
	// open, idle, while it writes another tenant: it lets acme go.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			assert.NoError(t, other.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1"))
			time.Sleep(10 * time.Millisecond)
		}
	}()
	require.NoError(t, rotate(s, "acme"))
	<-done
	_, err = s.Unseal("acme", []byte("queue"), sealed)
	require.NoError(t, err)
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)

	// A master key rotation re-wraps the kept chain and seal keys too.
	require.NoError(t, s.RotateMasterKey(newKey(t), "v1"))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	_, err = s.Unseal("acme", []byte("queue"), sealed)
	require.NoError(t, err)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "d"), "v1"))

	require.ErrorIs(t, rotate(s, "acmee"), ErrNoTenant)
	_, err = os.Stat(filepath.Join(s.Dir(), "acmee"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing created")
}

func TestRotateDataKeyFailureKeepsOldKey(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a", "b"), "v1"))
	oldKey := dataKeyOf(t, s, "acme")
	s.rekeyFault = func() error { return errors.New("disk full") }
	err := rotate(s, "acme")
	require.ErrorContains(t, err, "disk full")
	require.ErrorContains(t, err, "stays on its old key")
	s.rekeyFault = nil

	assert.Equal(t, oldKey, dataKeyOf(t, s, "acme"))
	kf, err := readKeyFile(filepath.Join(s.Dir(), "acme"), "acme")
	require.NoError(t, err)
	assert.Empty(t, kf.Secrets, "no pending key left")
	conn, err := openConn(filepath.Join(s.Dir(), "acme", dbFileName), oldKey, true)
	require.NoError(t, err)
	conn.Close()
	assert.Len(t, query(t, s, "acme", "SELECT body FROM logs"), 2)
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
	for _, leftover := range []string{rekeyMarker, ".tmp-" + dbFileName + "-rekey"} {
		_, err = os.Stat(filepath.Join(s.Dir(), "acme", leftover))
		assert.ErrorIs(t, err, os.ErrNotExist, leftover)
	}
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "c"), "v1"))
}

// A crash after the database moved but before the key file named the new
// key: the pending key opens it, for writes and for reads.
func TestRotateDataKeyCrashAfterSwap(t *testing.T) {
	s, master := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	dir := filepath.Join(s.Dir(), "acme")
	staged := filepath.Join(t.TempDir(), "staged.key")
	s.rekeyFault = func() error {
		b, err := os.ReadFile(filepath.Join(dir, keyFileName))
		if err == nil {
			err = os.WriteFile(staged, b, 0o600)
		}
		return err
	}
	require.NoError(t, rotate(s, "acme"))
	require.NoError(t, s.Close())
	// Put back the key file as it was between the rename and the last write.
	b, err := os.ReadFile(staged)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, keyFileName), b, 0o600))

	again, err := Open(s.Dir(), master)
	require.NoError(t, err)
	defer again.Close()
	_, err = again.VerifyAudit("acme")
	require.NoError(t, err)
	require.NoError(t, again.WriteLogs("acme", logsWith("acme", time.Now(), "b"), "v1"))
	assert.Len(t, query(t, again, "acme", "SELECT body FROM logs"), 2)
}

// A collector (one store) writes while tenancyctl (another store on the
// same directory) rotates: no write is lost, the chain verifies.
func TestRotateDataKeyWhileWriting(t *testing.T) {
	writer, master := openStore(t)
	require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "first"), "v1"))
	ctl, err := Open(writer.Dir(), master)
	require.NoError(t, err)
	defer ctl.Close()
	var wg sync.WaitGroup
	var written atomic.Int64
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if assert.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprint(i)), "v1")) {
				written.Add(1)
			}
		}
	}()
	for range 3 {
		time.Sleep(20 * time.Millisecond)
		require.NoError(t, rotate(ctl, "acme"))
	}
	close(stop)
	wg.Wait()
	assert.Len(t, query(t, ctl, "acme", "SELECT body FROM logs"), int(written.Load())+1)
	res, err := ctl.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Positive(t, res.Entries)
}
