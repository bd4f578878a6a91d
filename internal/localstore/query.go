package localstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// ErrNotReadOnly is returned for a forensic query that could change data.
var ErrNotReadOnly = errors.New("localstore: only read-only SELECT statements may be queried")

// ErrNoTenant is returned when the tenant has no database in the store.
var ErrNoTenant = errors.New("localstore: tenant has no data in this store")

// openReadOnly opens the tenant's database read-only with its data key;
// it never creates a key or a database.
func (s *Store) openReadOnly(tenant string) (*sqlite3.Conn, error) {
	conn, _, err := s.openReadOnlyKey(tenant)
	return conn, err
}

// openReadOnlyKey is openReadOnly that also returns the tenant's keys.
func (s *Store) openReadOnlyKey(tenant string) (*sqlite3.Conn, *tenantKeys, error) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, tombstoneName)); err == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrShredded, tenant)
	}
	if _, err := os.Stat(filepath.Join(dir, dbFileName)); err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoTenant, tenant)
	}
	kf, err := readKeyFile(dir, tenant)
	if err != nil {
		return nil, nil, err
	}
	keys, err := unwrapKeys(s.masterFor(kf.MasterKeyID), kf)
	if err != nil {
		return nil, nil, err
	}
	conn, keys, err := openKeyed(filepath.Join(dir, dbFileName), keys, true)
	if err != nil {
		return nil, nil, fmt.Errorf("localstore: tenant %s: %w", tenant, err)
	}
	return conn, keys, nil
}

// QueryOptions bound a forensic query.
type QueryOptions struct {
	// Since and Until, when set, restrict the logs, datapoints and spans
	// tables to rows with since <= time_unix_nano < until: unqualified
	// names resolve to temporary views over the window.
	Since, Until time.Time
	// MaxRows stops reading after this many rows (0: 100,000).
	MaxRows int
	// MaxBytes stops reading before the rows' text and blob values pass
	// this many bytes (0: 256 MiB); the first row is always read. A
	// resource is stored once however many rows name it, so a few MiB on
	// disk may be as many MiB in every row read.
	MaxBytes int
	// Actor says who ran the query, for the audit entry.
	Actor string
}

// QueryResult is the table a query returned.
type QueryResult struct {
	Columns   []string
	Rows      [][]any
	Truncated bool
}

// Query runs one read-only SQL statement against the tenant's database and
// records it in the tenant's audit log (refused statements too). The
// connection is opened read-only, with PRAGMA query_only, ATTACH disabled,
// and an authorizer that allows reading only; the statement must be a
// single one that SQLite itself reports as read-only.
func (s *Store) Query(ctx context.Context, tenant, query string, opts QueryOptions, policyVersion string) (*QueryResult, error) {
	res, qerr := s.query(ctx, tenant, query, opts)
	if errors.Is(qerr, ErrShredded) || errors.Is(qerr, ErrNoTenant) || errors.Is(qerr, policy.ErrTenantIDBadChars) {
		return nil, qerr
	}
	detail := map[string]any{"sql": query, "actor": opts.Actor}
	if !opts.Since.IsZero() {
		detail["since"] = opts.Since.UTC().Format(time.RFC3339Nano)
	}
	if !opts.Until.IsZero() {
		detail["until"] = opts.Until.UTC().Format(time.RFC3339Nano)
	}
	if qerr != nil {
		detail["error"] = qerr.Error()
	} else {
		detail["rows"] = len(res.Rows)
	}
	if err := s.Audit(tenant, "query", detail, policyVersion); err != nil {
		return nil, errors.Join(qerr, fmt.Errorf("localstore: audit the query: %w", err))
	}
	return res, qerr
}

func (s *Store) query(ctx context.Context, tenant, query string, opts QueryOptions) (*QueryResult, error) {
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if ctx != nil {
		conn.SetInterrupt(ctx)
	}
	if !opts.Since.IsZero() || !opts.Until.IsZero() {
		lo, hi := int64(-1<<63), int64(1<<63-1)
		if !opts.Since.IsZero() {
			lo = opts.Since.UnixNano()
		}
		if !opts.Until.IsZero() {
			hi = opts.Until.UnixNano()
		}
		var views strings.Builder
		for _, table := range []string{"logs", "datapoints", "spans"} {
			fmt.Fprintf(&views, "CREATE TEMP VIEW %[1]s AS SELECT * FROM main.%[1]s WHERE time_unix_nano >= %[2]d AND time_unix_nano < %[3]d;", table, lo, hi)
		}
		if err := conn.Exec(views.String()); err != nil {
			return nil, err
		}
	}
	conn.Limit(sqlite3.LIMIT_ATTACHED, 0)
	if err := conn.Exec("PRAGMA query_only=1"); err != nil {
		return nil, err
	}
	err = conn.SetAuthorizer(func(action sqlite3.AuthorizerActionCode, _, _, _, _ string) sqlite3.AuthorizerReturnCode {
		switch action {
		case sqlite3.AUTH_SELECT, sqlite3.AUTH_READ, sqlite3.AUTH_FUNCTION, sqlite3.AUTH_RECURSIVE:
			return sqlite3.AUTH_OK
		}
		return sqlite3.AUTH_DENY
	})
	if err != nil {
		return nil, err
	}
	st, tail, err := conn.Prepare(query)
	if err != nil {
		if strings.Contains(err.Error(), "not authorized") {
			return nil, fmt.Errorf("%w: %v", ErrNotReadOnly, err)
		}
		return nil, err
	}
	defer st.Close()
	if strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(tail), ";")) != "" {
		return nil, fmt.Errorf("%w: give one statement, found more after it", ErrNotReadOnly)
	}
	if st == nil {
		return nil, errors.New("localstore: empty query")
	}
	if !st.ReadOnly() {
		return nil, ErrNotReadOnly
	}
	maxRows := opts.MaxRows
	if maxRows <= 0 {
		maxRows = 100_000
	}
	maxBytes := opts.MaxBytes
	if maxBytes <= 0 {
		maxBytes = 256 << 20
	}
	res := &QueryResult{}
	for i := range st.ColumnCount() {
		res.Columns = append(res.Columns, st.ColumnName(i))
	}
	read := 0
	for st.Step() {
		if len(res.Rows) == maxRows {
			res.Truncated = true
			break
		}
		n := 0
		for i := range st.ColumnCount() {
			switch st.ColumnType(i) {
			case sqlite3.TEXT:
				n += len(st.ColumnRawText(i))
			case sqlite3.BLOB:
				n += len(st.ColumnRawBlob(i))
			}
		}
		if len(res.Rows) > 0 && read+n > maxBytes {
			res.Truncated = true
			break
		}
		read += n
		row := make([]any, st.ColumnCount())
		for i := range row {
			switch st.ColumnType(i) {
			case sqlite3.INTEGER:
				row[i] = st.ColumnInt64(i)
			case sqlite3.FLOAT:
				row[i] = st.ColumnFloat(i)
			case sqlite3.TEXT:
				row[i] = st.ColumnText(i)
			case sqlite3.BLOB:
				row[i] = st.ColumnBlob(i, nil)
			default:
				row[i] = nil
			}
		}
		res.Rows = append(res.Rows, row)
	}
	if err := st.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// expiredWhere is a view's rows older than ?1: by their own time, or by
// their ingestion when their time is later (the partial index *_ahead of
// the view's rows table).
const expiredWhere = " WHERE time_unix_nano < ?1 OR (time_unix_nano > ingested_unix_nano AND ingested_unix_nano < ?1)"

// sqlExpired reads a view's expired rows as row hash v takes them
// (hashedRows: id, then the view's columns, the resource's digest for its
// id under row hash 2), and sqlExpire deletes them from the view's rows
// table. Not
// one DELETE ... RETURNING: SQLite runs it to its end and holds every
// returned row in memory before the first comes back, so retention held
// all of a tenant's expired rows in the connection's heap at once (and
// ncruces panics when that runs out), each with its resource's JSON, and
// a resource stored once may be named by any number of rows (a 1 MiB
// resource on 256 rows was 256 MiB of SQLite's heap). Both run in one
// transaction, which holds the write lock, so they see the same rows; the
// counts are compared all the same.
func sqlExpired(view string, v int) string { return hashedRows(view, v) + expiredWhere }

func sqlExpire(view string) string { return "DELETE FROM " + rowTables[view] + expiredWhere }

const (
	lineageExpiredWhere = ` WHERE delivered_unix_nano < ?1 AND signal = ?2`
	sqlExpiredLineage   = `SELECT * FROM lineage` + lineageExpiredWhere
	sqlExpireLineage    = `DELETE FROM lineage` + lineageExpiredWhere
)

// expire hashes the rows read reads, one at a time, then deletes them
// with del (both bound to cutoff and, when not empty, signal), and returns
// their sum and count; a delete that removes another count of rows is an
// error, so the transaction rolls back.
func (t *tenantDB) expire(table, read, del string, cutoff int64, signal string) (rowSum, int64, error) {
	bind := func(st *sqlite3.Stmt) {
		_ = st.BindInt64(1, cutoff)
		if signal != "" {
			_ = st.BindText(2, signal)
		}
	}
	st, err := t.stmt(read)
	if err != nil {
		return rowSum{}, 0, err
	}
	bind(st)
	sum, n, err := t.rowHasher().sumRows(st, table, t.rowHash)
	if rerr := st.Reset(); err == nil {
		err = rerr
	}
	if err != nil || n == 0 {
		return sum, n, err
	}
	if st, err = t.stmt(del); err != nil {
		return rowSum{}, 0, err
	}
	bind(st)
	if err := st.Exec(); err != nil {
		return rowSum{}, 0, err
	}
	if got := t.conn.Changes(); got != n {
		return rowSum{}, 0, fmt.Errorf("retention of %s: read %d expired rows, deleted %d", table, n, got)
	}
	return sum, n, nil
}

// ApplyRetention deletes the tenant's rows older than its retention per
// signal (a signal with no retention, or 0, keeps everything) and appends
// one "retention" audit entry for the run, with what it deleted. A row is
// as old as the earlier of its time and its ingestion, so a timestamp in
// the future cannot keep it past its retention.
func (s *Store) ApplyRetention(tenant string, retention map[policy.Signal]time.Duration, now time.Time, policyVersion string) (map[policy.Signal]int64, error) {
	t, err := s.tenant(tenant)
	if err != nil {
		return nil, err
	}
	deleted := map[policy.Signal]int64{}
	cutoffs := map[policy.Signal]string{}
	// removed accounts for the deleted rows, so audit verify still finds
	// the rows the chain inserted, less these.
	removed := map[string]RowsTally{}
	var lineageSum rowSum
	var lineageRows int64
	err = t.inTx(func() error {
		for _, sig := range policy.Signals {
			d := retention[sig]
			if d <= 0 {
				continue
			}
			cutoff := now.Add(-d)
			table := tables[string(sig)]
			sum, n, err := t.expire(table, sqlExpired(table, t.rowHash), sqlExpire(table), cutoff.UnixNano(), "")
			if err != nil {
				return err
			}
			deleted[sig] = n
			cutoffs[sig] = cutoff.UTC().Format(time.RFC3339Nano)
			if n > 0 {
				removed[table] = RowsTally{Rows: n, Digest: sum.String()}
			}
			st, err := t.stmt(sqlResourcesGone(table))
			if err != nil {
				return err
			}
			_ = st.BindInt64(1, cutoff.UnixNano())
			if err := st.Exec(); err != nil {
				return err
			}
			// A request's lineage goes when its records can no longer be
			// here: a record is aged from its time or, if later, its
			// ingestion, so none outlives its delivery by the retention.
			if sum, n, err = t.expire(lineageTable, sqlExpiredLineage, sqlExpireLineage, cutoff.UnixNano(), string(sig)); err != nil {
				return err
			}
			lineageSum.plus(sum)
			lineageRows += n
		}
		if lineageRows > 0 {
			removed[lineageTable] = RowsTally{Rows: lineageRows, Digest: lineageSum.String()}
		}
		// Resources no row names any more; not rows of the chain (the
		// rows' hashes hold their resources' digests, audit verify checks
		// each digest against its JSON).
		t.dropResourceCache()
		if st, err := t.stmt(sqlDeleteResources); err != nil {
			return err
		} else if err := st.Exec(); err != nil {
			return err
		}
		_, err := t.appendAudit(now, "retention", map[string]any{"deleted": deleted, "cutoffs": cutoffs, "removed": removed}, policyVersion)
		return err
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}
