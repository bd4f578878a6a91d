package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWriterCheckpointsEvery8000Pages: a tenant's writing connection
// checkpoints its WAL at walCheckpointPages, not SQLite's default of
// 1,000, and cuts the WAL file back to walSizeLimit when it restarts.
func TestWriterCheckpointsEvery8000Pages(t *testing.T) {
	s, _ := openStore(t)
	require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), "x"), "v1"))
	tdb, err := s.tenant("acme")
	require.NoError(t, err)
	pragma := func(name string) int64 {
		st, _, err := tdb.conn.Prepare("PRAGMA " + name)
		require.NoError(t, err)
		defer st.Close()
		require.True(t, st.Step(), name)
		return st.ColumnInt64(0)
	}
	require.Equal(t, int64(8000), pragma("wal_autocheckpoint"))
	require.Equal(t, int64(8000*4096), pragma("journal_size_limit"))
	require.Equal(t, int64(4096), pragma("page_size"))
}
