package localstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestH27yRowIDsExhaustedAtTheLargest (hostile review h27y of b54264e): a
// table whose largest id is 2^63-1 (a row put there by whoever holds the
// data key) has no id past it. ingest read one past it as the next id,
// which wrapped to -2^63, hashed the rows under negative ids and left
// SQLite to pick random ones: the write failed errRowIDHashed, which says
// another insert took the ids. It is errRowIDs, the error for the ids'
// end, and nothing of the batch is kept.
func TestH27yRowIDsExhaustedAtTheLargest(t *testing.T) {
	s, _ := openStore(t)
	ld, _, _ := blocksBatch(time.Now().Add(-time.Hour))
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	td, err := s.tenant("acme")
	require.NoError(t, err)
	require.NoError(t, td.inTx(func() error {
		return td.conn.Exec(`INSERT INTO log_rows(id, time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, resource_id, attrs)
			VALUES (9223372036854775807, 1, 1, 1, 1, 'x', 1, '{}')`)
	}))
	rows := h27sCount(t, s, "SELECT count(*) FROM logs")
	err = s.WriteLogs("acme", ld, "v1")
	require.ErrorIs(t, err, errRowIDs)
	require.Equal(t, rows, h27sCount(t, s, "SELECT count(*) FROM logs"))
	require.Equal(t, int64(0), h27sCount(t, s, "SELECT count(*) FROM logs WHERE id < 0"))
}
