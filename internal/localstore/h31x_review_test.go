package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestH31xJoinedForgedLineageStaysItsOwnRow (hostile review h31x): in a
// store that several senders' batches reach through one queue (the
// _quarantine store), a batch joined behind a victim's whose resources
// carry the victim's tenant.lineage value byte for byte gets a lineage
// row of its own: the victim's row still counts only its records and its
// row id range covers only its rows, as when each batch was a write of
// its own. Documents a property; passes.
func TestH31xJoinedForgedLineageStaysItsOwnRow(t *testing.T) {
	s, _ := openStore(t)
	now := time.Now()
	victim := withLineage(logsWith("_quarantine", now, "v1", "v2"), "req-victim")
	forged := withLineage(logsWith("_quarantine", now, "x1"), "req-victim") // same lineage string
	require.NoError(t, s.WriteLogs("_quarantine", victim, "v1", forged))
	assert.Equal(t, [][]any{
		{"req-victim", int64(2), int64(1), int64(2)},
		{"req-victim", int64(1), int64(3), int64(3)},
	}, query(t, s, "_quarantine", `SELECT lineage_id, records, first_id, last_id FROM lineage ORDER BY id`))
	v, err := s.VerifyAudit("_quarantine")
	require.NoError(t, err)
	assert.EqualValues(t, 3+2, v.Rows)
}
