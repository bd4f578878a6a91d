package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH27yRetentionOfTheNewestIDs: retention deletes the rows with the
// largest ids (records sent with old timestamps after recent ones), so
// the next batch takes the same ids again; the chain still verifies and
// every kept row is there.
func TestH27yRetentionOfTheNewestIDs(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	recent, _, _ := blocksBatch(now.Add(-time.Hour))
	old, _, _ := blocksBatch(now.Add(-40 * 24 * time.Hour))
	require.NoError(t, s.WriteLogs("acme", recent, "v1"))
	n := h27sCount(t, s, "SELECT count(*) FROM logs")
	require.NoError(t, s.WriteLogs("acme", old, "v1"))
	require.Equal(t, []any{int64(1), 2 * n, 2 * n}, h27sQuery(t, s, "SELECT min(id), max(id), count(*) FROM logs"))
	_, err := s.ApplyRetention("acme", map[policy.Signal]time.Duration{policy.SignalLogs: 30 * 24 * time.Hour}, now, "v1")
	require.NoError(t, err)
	require.Equal(t, []any{int64(1), n, n}, h27sQuery(t, s, "SELECT min(id), max(id), count(*) FROM logs"))
	require.NoError(t, s.WriteLogs("acme", recent, "v1"))
	require.Equal(t, []any{int64(1), 2 * n, 2 * n}, h27sQuery(t, s, "SELECT min(id), max(id), count(*) FROM logs"))
	_, err = s.VerifyAudit("acme")
	require.NoError(t, err)
}
