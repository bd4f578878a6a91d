package localstore

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// watchedStores returns the collector's store (writer), holding acme, and
// another process's (ctl) on the same directory.
func watchedStores(t *testing.T) (writer, ctl *Store) {
	t.Helper()
	writer, master := openStore(t)
	require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	ctl, err := Open(writer.Dir(), master)
	require.NoError(t, err)
	t.Cleanup(func() { ctl.Close() })
	return writer, ctl
}

// The collector's store (writer) watches what another process (ctl, as
// tenancyctl) reads: queries, exports and backups, counted once each, per
// tenant, from the watch's start; its own ingest entries are no reads.
func TestReadWatchCountsOtherProcessesReads(t *testing.T) {
	writer, ctl := watchedStores(t)
	require.NoError(t, writer.WriteLogs("globex", logsWith("globex", time.Now(), "g"), "v1"))
	ctlQuery := func(tenant string) {
		_, err := ctl.Query(t.Context(), tenant, "SELECT count(*) FROM logs", QueryOptions{Actor: "ctl"}, "v1")
		require.NoError(t, err)
	}
	ctlQuery("acme") // before the watch: not counted

	w := writer.WatchReads(time.Now())
	tenants := []string{"acme", "globex", "initech"} // initech has no database
	reads, err := w.Reads(tenants, time.Now())
	require.NoError(t, err)
	assert.Empty(t, reads)

	for range 3 {
		ctlQuery("acme")
	}
	_, err = ctl.Export("acme", ExportOptions{Actor: "ctl"}, io.Discard, "v1")
	require.NoError(t, err)
	_, err = ctl.Backup("acme", filepath.Join(t.TempDir(), "acme.bak"), "v1")
	require.NoError(t, err)
	require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "b"), "v1"))
	require.NoError(t, writer.WriteLogs("globex", logsWith("globex", time.Now(), "h"), "v1"))
	reads, err = w.Reads(tenants, time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]TenantReads{"acme": {N: 5, Actors: []string{"ctl"}}}, reads, "the backup names no actor")

	// Nothing new: nothing counted twice.
	reads, err = w.Reads(tenants, time.Now())
	require.NoError(t, err)
	assert.Empty(t, reads)

	// Through a closed connection (the store closed it as idle) too.
	writer.SetMaxOpenTenants(1)
	require.NoError(t, writer.WriteLogs("globex", logsWith("globex", time.Now(), "i"), "v1"))
	require.NoError(t, writer.WriteLogs("initech", logsWith("initech", time.Now(), "x"), "v1"))
	ctlQuery("globex")
	ctlQuery("initech")
	reads, err = w.Reads(tenants, time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]TenantReads{"globex": {N: 1, Actors: []string{"ctl"}}, "initech": {N: 1, Actors: []string{"ctl"}}}, reads,
		"initech's database appeared after the watch began")
}

// A tenant first listed after the watch began is counted from the
// previous look, and one no longer listed is forgotten.
func TestReadWatchTenantsComeAndGo(t *testing.T) {
	writer, ctl := watchedStores(t)
	w := writer.WatchReads(time.Now())
	_, err := w.Reads(nil, time.Now())
	require.NoError(t, err)
	_, err = ctl.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v1")
	require.NoError(t, err)
	reads, err := w.Reads([]string{"acme"}, time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]TenantReads{"acme": {N: 1}}, reads)
	_, err = w.Reads(nil, time.Now())
	require.NoError(t, err)
	assert.Empty(t, w.marks)
}

// After a tenant is shredded its store reads are nobody's; once the
// tombstone is cleared the new chain starts below the old head and is
// still counted.
func TestReadWatchShreddedAndRestarted(t *testing.T) {
	writer, ctl := watchedStores(t)
	for range 4 {
		require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "a"), "v1"))
	}
	w := writer.WatchReads(time.Now())
	_, err := ctl.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v1")
	require.NoError(t, err)
	reads, err := w.Reads([]string{"acme"}, time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]TenantReads{"acme": {N: 1}}, reads)
	require.Equal(t, int64(6), w.marks["acme"].seq)

	_, err = ctl.Shred("acme", "test", "v1")
	require.NoError(t, err)
	reads, err = w.Reads([]string{"acme"}, time.Now())
	require.NoError(t, err, "a shredded tenant is no error")
	assert.Empty(t, reads)

	assert.ErrorIs(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "late"), "v1"), ErrShredded)
	_, err = ctl.ClearTombstone("acme", "test")
	require.NoError(t, err)
	require.NoError(t, writer.WriteLogs("acme", logsWith("acme", time.Now(), "new"), "v1"))
	_, err = ctl.Query(t.Context(), "acme", "SELECT 1", QueryOptions{}, "v1")
	require.NoError(t, err)
	reads, err = w.Reads([]string{"acme"}, time.Now())
	require.NoError(t, err)
	assert.Equal(t, map[string]TenantReads{"acme": {N: 1}}, reads, "the new chain's query, below the old head")
}

// The actors are named latest first, each once, at most MaxReadActors of
// them, each cut to a bounded length.
func TestReadWatchActors(t *testing.T) {
	writer, ctl := watchedStores(t)
	w := writer.WatchReads(time.Now())
	long := strings.Repeat("x", 500)
	for _, actor := range []string{"tenancyctl:a", "tenancyctl:b", "tenancyctl:a", long, "tenancyctl:c", "tenancyctl:d", "tenancyctl:e"} {
		_, err := ctl.Query(t.Context(), "acme", "SELECT 1", QueryOptions{Actor: actor}, "v1")
		require.NoError(t, err)
	}
	reads, err := w.Reads([]string{"acme"}, time.Now())
	require.NoError(t, err)
	assert.Equal(t, TenantReads{N: 7, Actors: []string{"tenancyctl:e", "tenancyctl:d", "tenancyctl:c", long[:maxActorLen]}}, reads["acme"])
}
