package localstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealIsBoundToTheTenantAndShredded(t *testing.T) {
	s, master := openStore(t)
	plain := []byte("acme's queued batch")
	sealed, err := s.Seal("acme", []byte("q/acme/1"), plain)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(sealed, plain))
	_, err = os.Stat(filepath.Join(s.Dir(), "acme", keyFileName))
	require.NoError(t, err, "a new tenant gets its data key")
	_, err = os.Stat(filepath.Join(s.Dir(), "acme", dbFileName))
	assert.ErrorIs(t, err, os.ErrNotExist, "but no database yet")

	got, err := s.Unseal("acme", []byte("q/acme/1"), sealed)
	require.NoError(t, err)
	assert.Equal(t, plain, got)
	_, err = s.Unseal("acme", []byte("q/acme/2"), sealed)
	assert.Error(t, err, "bound to its place")
	_, err = s.Seal("globex", nil, nil)
	require.NoError(t, err)
	_, err = s.Unseal("globex", []byte("q/acme/1"), sealed)
	assert.Error(t, err, "another tenant's key does not open it")
	_, err = s.Unseal("initech", nil, sealed)
	assert.ErrorIs(t, err, ErrNoTenant)

	// Another process (after a restart) reads it with the master key.
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "x"), "v1"))
	require.NoError(t, s.Close())
	s2, err := Open(s.Dir(), master)
	require.NoError(t, err)
	defer s2.Close()
	got, err = s2.Unseal("acme", []byte("q/acme/1"), sealed)
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	_, err = s2.Shred("acme", "erasure", "v1")
	require.NoError(t, err)
	_, err = s2.Unseal("acme", []byte("q/acme/1"), sealed)
	assert.ErrorIs(t, err, ErrShredded)
	_, err = s2.Seal("acme", nil, plain)
	assert.ErrorIs(t, err, ErrShredded)

	// Cleared: still the erased tenant's, not a tenant the store never had.
	_, err = s2.ClearTombstone("acme", "op")
	require.NoError(t, err)
	_, err = s2.Unseal("acme", []byte("q/acme/1"), sealed)
	assert.ErrorIs(t, err, ErrShredded)
	_, err = s2.Seal("acme", nil, plain) // the id starts afresh
	require.NoError(t, err)
	_, err = s2.Unseal("acme", []byte("q/acme/1"), sealed)
	assert.ErrorIs(t, err, ErrUnsealable, "the new data key does not open the erased tenant's")
}
