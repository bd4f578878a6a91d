package localstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyFiles reads every tenant's key file, to compare before and after.
func keyFiles(t *testing.T, s *Store) map[string]string {
	t.Helper()
	tenants, err := s.Tenants()
	require.NoError(t, err)
	out := map[string]string{}
	for _, tn := range tenants {
		b, err := os.ReadFile(filepath.Join(s.Dir(), tn, keyFileName))
		require.NoError(t, err)
		out[tn] = string(b)
	}
	return out
}

func TestRotationIsAllOrNothing(t *testing.T) {
	s, oldKey := openStore(t)
	for _, tn := range []string{"acme", "globex", "initech"} {
		require.NoError(t, s.WriteLogs(tn, logsWith(tn, time.Now(), tn), "v1"))
	}
	// globex's key file is wrapped by a third key: it cannot be re-wrapped.
	third := newKey(t)
	globex := func(string) string { return filepath.Join(s.Dir(), "globex") }
	_, err := rotation(globex, []string{"globex"}, oldKey, third)
	require.NoError(t, err)
	before := keyFiles(t, s)
	next := newKey(t)
	err = s.RotateMasterKey(next, "v1")
	require.Error(t, err)
	assert.ErrorContains(t, err, "tenant globex")
	assert.NotContains(t, err.Error(), "tenant acme")
	assert.Equal(t, before, keyFiles(t, s), "a failed rotation changes no key file")
	assert.Equal(t, KeyID(oldKey), s.MasterKeyID())
	entries, err := os.ReadDir(filepath.Join(s.Dir(), "acme"))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "no prepared key file is left behind")
	}
	assert.Equal(t, [][]any{{int64(0)}}, query(t, s, "acme", "SELECT count(*) FROM audit WHERE kind = 'key_rotation'"))

	// Once globex is fixed the rerun moves every tenant.
	_, err = rotation(globex, []string{"globex"}, third, oldKey)
	require.NoError(t, err)
	require.NoError(t, s.RotateMasterKey(next, "v1"))
	s2, err := Open(s.Dir(), next)
	require.NoError(t, err)
	defer s2.Close()
	for _, tn := range []string{"acme", "globex", "initech"} {
		assert.Equal(t, [][]any{{tn}}, query(t, s2, tn, "SELECT body FROM logs"))
		assert.Equal(t, [][]any{{int64(1)}}, query(t, s2, tn, "SELECT count(*) FROM audit WHERE kind = 'key_rotation'"))
	}
	// A rerun after a crash half way (some tenants already on the new key)
	// completes instead of failing for them.
	require.NoError(t, s2.RotateMasterKey(next, "v1"))
}

func TestRotationWhileACollectorRuns(t *testing.T) {
	collector, oldKey := openStore(t)
	require.NoError(t, collector.WriteLogs("acme", logsWith("acme", time.Now(), "a1"), "v1"))
	ctl, err := Open(collector.Dir(), oldKey)
	require.NoError(t, err)
	defer ctl.Close()
	next := newKey(t)
	require.NoError(t, ctl.RotateMasterKey(next, "v1"))

	// The collector still writes the tenants it holds open (their data
	// keys did not change), but will not wrap a new tenant's key with the
	// master key the store left behind.
	require.NoError(t, collector.WriteLogs("acme", logsWith("acme", time.Now(), "a2"), "v1"))
	err = collector.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1")
	require.ErrorIs(t, err, ErrStaleMasterKey)
	assert.ErrorContains(t, err, KeyID(next))
	_, err = os.Stat(filepath.Join(collector.Dir(), "globex", keyFileName))
	assert.ErrorIs(t, err, os.ErrNotExist, "no key file was written under the stale key")

	// Given a way to re-read its key (the operator replaced the key file),
	// it picks up the new one and goes on.
	collector.SetMasterKeySource(func() ([]byte, error) { return next, nil })
	require.NoError(t, collector.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1"))
	assert.Equal(t, KeyID(next), collector.MasterKeyID())
	require.NoError(t, collector.Close())
	s2, err := Open(collector.Dir(), next)
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s2.CheckKeys())
	assert.Equal(t, [][]any{{"g"}}, query(t, s2, "globex", "SELECT body FROM logs"))
	assert.Equal(t, [][]any{{"a1"}, {"a2"}}, query(t, s2, "acme", "SELECT body FROM logs ORDER BY id"))
}

func TestCheckKeysRefusesAWrongMasterKey(t *testing.T) {
	s, key := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	require.NoError(t, s.CheckKeys())
	require.NoError(t, s.Close())

	wrong, err := Open(s.Dir(), newKey(t))
	require.NoError(t, err)
	defer wrong.Close()
	err = wrong.CheckKeys()
	require.Error(t, err)
	assert.ErrorContains(t, err, "does not unwrap 1 of 1 tenants")
	assert.ErrorContains(t, err, "tenant acme")

	// With every tenant shredded, the key set still tells a wrong key.
	right, err := Open(s.Dir(), key)
	require.NoError(t, err)
	defer right.Close()
	_, err = right.Shred("acme", "test", "v1")
	require.NoError(t, err)
	assert.ErrorContains(t, wrong.CheckKeys(), "the store's master key is "+KeyID(key))
	require.NoError(t, right.CheckKeys())
}

func TestShredRefusesAnUnknownTenant(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	_, err := s.Shred("acmee", "typo", "v1")
	require.ErrorIs(t, err, ErrNoTenant)
	_, err = os.Stat(filepath.Join(s.Dir(), "acmee"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was created for the typo")
	err = s.RewrapTenant("acmeee", newKey(t), "v1")
	require.ErrorIs(t, err, ErrNoTenant)
	_, err = os.Stat(filepath.Join(s.Dir(), "acmeee"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, [][]any{{"a"}}, query(t, s, "acme", "SELECT body FROM logs"), "the real tenant is untouched")
}

func TestTombstoneRefusesDataUntilCleared(t *testing.T) {
	collector, key := openStore(t)
	require.NoError(t, collector.WriteLogs("acme", logsWith("acme", time.Now(), "old"), "v1"))
	ctl, err := Open(collector.Dir(), key)
	require.NoError(t, err)
	defer ctl.Close()
	_, err = ctl.Shred("acme", "erasure request", "v1")
	require.NoError(t, err)

	// Later data for the id is refused, in the collector too, and again
	// after a restart.
	require.ErrorIs(t, collector.WriteLogs("acme", logsWith("acme", time.Now(), "late"), "v1"), ErrShredded)
	_, err = ctl.Shred("acme", "again", "v1")
	require.ErrorIs(t, err, ErrShredded)
	_, err = ctl.ClearTombstone("globex", "op")
	require.Error(t, err, "globex is not shredded")

	rec, err := ctl.ClearTombstone("acme", "op")
	require.NoError(t, err)
	assert.Equal(t, "erasure request", rec.Reason)
	assert.Equal(t, "op", rec.ClearedBy)
	kept, err := filepath.Glob(filepath.Join(collector.Dir(), "acme", "SHREDDED-*.json"))
	require.NoError(t, err)
	assert.Len(t, kept, 1, "the erasure's record stays")

	// Once cleared, the id starts afresh under a new data key: none of the
	// shredded rows come back.
	require.NoError(t, collector.WriteLogs("acme", logsWith("acme", time.Now(), "new"), "v1"))
	assert.Equal(t, [][]any{{"new"}}, query(t, collector, "acme", "SELECT body FROM logs"))
	res, err := collector.VerifyAudit("acme")
	require.NoError(t, err)
	assert.Equal(t, int64(2), res.Entries, "a new chain: this ingest and the query")
}

// A write that fails after the file was created (here: a full disk) must
// not leave it: a half-written REKEY marker would hold every writer of
// the tenant, and a half-written prepared key file would stay beside the
// key.
func TestWriteSyncedRemovesFileOnFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), rekeyMarker)
	require.NoError(t, os.Symlink("/dev/full", path))
	require.Error(t, writeSynced(path, []byte("x\n"), 0o640))
	_, err := os.Lstat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
