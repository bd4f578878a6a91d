package localstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// h27sCount is what a query of one count returns.
func h27sCount(t *testing.T, s *Store, q string) int64 {
	t.Helper()
	res, err := s.Query(context.Background(), "acme", q, QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err, q)
	return res.Rows[0][0].(int64)
}

// h27sRun starts a run of n log rows in ins under the tenant's
// resource {"service.name":"shop"}.
func h27sRun(t *testing.T, td *tenantDB, ins *blockInserter, n int, ingested int64) {
	t.Helper()
	res := `{"service.name":"shop"}`
	rid, rd, err := td.resourceID(res)
	require.NoError(t, err)
	ins.startRun(n, res, rd, ingested, "shop", "scope", rid, nil)
}

// h27sRow is a log row's own cells; attrs nil binds NULL, which the
// table refuses.
func h27sRow(ts int64, body string, attrs []byte) []cell {
	return []cell{intCell(ts), intCell(ts), intCell(9), textCell("INFO"), textCell(body), {}, {}, bytesCell(attrs)}
}

// TestH27sBlockChecksTheIDsItHashed: a block names no ids, so SQLite
// picks them; the rows were hashed under the ids ingest expected (one
// past the table's largest when the transaction's first row came). A row
// that took an expected id behind ingest's back makes the block's rows
// take others: the write fails, and nothing of it is kept.
func TestH27sBlockChecksTheIDsItHashed(t *testing.T) {
	s, _ := openStore(t)
	ld, _, _ := blocksBatch(time.Now().Add(-time.Hour))
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	rows := h27sCount(t, s, "SELECT count(*) FROM logs")
	td, err := s.tenant("acme")
	require.NoError(t, err)
	now := time.Now().UnixNano()
	err = td.inTxBatch(true, func() error {
		sum := IngestSummary{Signal: "logs"}
		ins := td.newBlockInserter(&sum, logColumns, "ingested_unix_nano", "service_name", "scope_name", "resource", lineageColumn)
		h27sRun(t, td, ins, 3, now)
		if _, err := ins.add(h27sRow(now, "first", []byte(`{}`))...); err != nil {
			return err
		}
		// The id the next row was hashed under, taken by another insert.
		if err := td.conn.Exec(`INSERT INTO log_rows(id, time_unix_nano, observed_unix_nano, ingested_unix_nano, severity_number, severity_text, resource_id, attrs)
			SELECT max(id) + 2, 1, 1, 1, 1, 'x', 1, '{}' FROM log_rows`); err != nil {
			return err
		}
		for _, body := range []string{"second", "third"} {
			if _, err := ins.add(h27sRow(now, body, []byte(`{}`))...); err != nil {
				return err
			}
		}
		return ins.done()
	})
	require.ErrorIs(t, err, errRowIDHashed)
	require.Equal(t, rows, h27sCount(t, s, "SELECT count(*) FROM logs"))
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	require.Equal(t, 2*rows, h27sCount(t, s, "SELECT count(*) FROM logs"))
	v, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	require.Equal(t, int64(2), h27sCount(t, s, "SELECT count(*) FROM audit WHERE kind = 'ingest'"))
	require.Positive(t, v.Rows)
}

// TestH27sFailedBlockKeepsNothing: a block that fails half way (a row
// the table refuses, after rows of the same block and of blocks before
// it) leaves no row of its transaction and no audit entry: blocks run
// without a statement journal (OR FAIL), so the block's first rows are
// undone by the transaction's rollback, not the statement's. The next
// write takes the same ids and the chain verifies.
func TestH27sFailedBlockKeepsNothing(t *testing.T) {
	for _, rows := range []int{0, 1} { // blocks of 32, 8, 1; one row per statement
		s, _ := openStore(t)
		s.blockRows = rows
		ld, _, _ := blocksBatch(time.Now().Add(-time.Hour))
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
		before := h27sCount(t, s, "SELECT count(*) FROM logs")
		entries := h27sCount(t, s, "SELECT count(*) FROM audit WHERE kind = 'ingest'")
		td, err := s.tenant("acme")
		require.NoError(t, err)
		now := time.Now().UnixNano()
		err = td.inTxBatch(true, func() error {
			sum := IngestSummary{Signal: "logs"}
			ins := td.newBlockInserter(&sum, logColumns, "ingested_unix_nano", "service_name", "scope_name", "resource", lineageColumn)
			h27sRun(t, td, ins, 40, now)
			for i := range 40 {
				attrs := []byte(`{"i":1}`)
				if i == 35 { // in the second block of 8, after the first block of 32
					attrs = nil
				}
				if _, err := ins.add(h27sRow(now+int64(i), "row", attrs)...); err != nil {
					return err
				}
			}
			return ins.done()
		})
		require.ErrorContains(t, err, "NOT NULL constraint failed: log_rows.attrs", "blockRows=%d", rows)
		require.Equal(t, before, h27sCount(t, s, "SELECT count(*) FROM logs"), "blockRows=%d", rows)
		require.Equal(t, entries, h27sCount(t, s, "SELECT count(*) FROM audit WHERE kind = 'ingest'"), "blockRows=%d", rows)
		require.NoError(t, s.WriteLogs("acme", ld, "v1"))
		require.Equal(t, []any{int64(1), 2 * before, 2 * before}, h27sQuery(t, s, "SELECT min(id), max(id), count(*) FROM logs"), "blockRows=%d", rows)
		_, err = s.VerifyAudit("acme")
		require.NoError(t, err, "blockRows=%d", rows)
	}
}

func h27sQuery(t *testing.T, s *Store, q string) []any {
	t.Helper()
	res, err := s.Query(context.Background(), "acme", q, QueryOptions{Actor: "test"}, "v1")
	require.NoError(t, err, q)
	return res.Rows[0]
}
