package localstore

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// readKinds are the audit kinds of reads of a tenant's data: tenancyctl
// query (lineage runs queries too), export and backup. Everything else in
// the log is the collector's own writing or an operator's change.
var readKinds = map[string]bool{"query": true, "export": true, "backup": true}

// MaxReadActors bounds the actors a TenantReads names.
const MaxReadActors = 4

// maxActorLen bounds each actor's length: whoever holds the master key
// writes it.
const maxActorLen = 64

// TenantReads are the reads found in a tenant's audit log.
type TenantReads struct {
	N uint64
	// Actors are the distinct actors the entries name (tenancyctl's are
	// "tenancyctl:<user>"), the latest first, at most MaxReadActors.
	Actors []string
}

// ReadWatch finds the reads of tenants' data that other processes
// (tenancyctl) recorded in the tenants' audit logs, for the access-pattern
// features. Each call of Reads looks only at what is new since the
// previous one: a tenant whose database files did not change costs two
// stats, one that did a walk back from its chain head to the last entry
// seen, on the store's open connection if it has one (the tenants the
// collector writes to), else on a read-only one.
type ReadWatch struct {
	s *Store
	// last is when the previous call looked (at first, the watch's start):
	// a tenant first listed then is counted from there.
	last  time.Time
	marks map[string]*readMark
}

type readMark struct {
	// seq is the chain head at the last look; 0 until a look found one.
	seq int64
	// since is when the last look was: with no seq, entries timed before
	// it are not counted (they were there before the watch looked, or
	// before the chain restarted).
	since time.Time
	// files are the database files as the last look found them.
	files fileStamp
}

// fileStamp is a database's size and modification time with its WAL's: a
// write by any process changes it.
type fileStamp struct {
	db, wal     int64
	dbMod, wMod int64
}

// WatchReads returns a watch that counts the reads recorded from start on.
// It is not safe for concurrent use.
func (s *Store) WatchReads(start time.Time) *ReadWatch {
	return &ReadWatch{s: s, last: start, marks: map[string]*readMark{}}
}

// Reads returns, for each of tenants whose audit log gained read entries
// since the previous call, how many. Tenants not listed are forgotten, so
// the watch holds no more than its caller's tenants; a shredded tenant or
// one without a database has none. An error names the tenants it concerns;
// the others are counted.
func (w *ReadWatch) Reads(tenants []string, now time.Time) (map[string]TenantReads, error) {
	out := map[string]TenantReads{}
	keep := make(map[string]*readMark, len(tenants))
	var errs []error
	for _, id := range tenants {
		m := w.marks[id]
		if m == nil {
			m = &readMark{since: w.last}
		}
		keep[id] = m
		// Stamped before the walk: a write during it changes the files
		// again, and the next call walks to it from the new head.
		files, ok := w.s.stampFiles(id)
		if !ok || files == m.files {
			continue
		}
		if m.seq == 0 && files.newest() < m.since.UnixNano()-int64(mtimeSlack) {
			m.files = files // unchanged since before the watch: nothing new to walk
			continue
		}
		r, head, err := w.s.readsAfter(id, m.seq, m.since)
		if err != nil {
			if !errors.Is(err, ErrShredded) && !errors.Is(err, ErrNoTenant) {
				errs = append(errs, err)
			}
			continue
		}
		m.seq, m.since, m.files = head, now, files
		if r.N > 0 {
			out[id] = r
		}
	}
	w.marks, w.last = keep, now
	return out, errors.Join(errs...)
}

func (f fileStamp) newest() int64 { return max(f.dbMod, f.wMod) }

// mtimeSlack is how far a file's modification time may lag the clock:
// the kernel stamps it from a coarse clock (a tick, up to seconds on some
// file systems), so a write just after the watch started can carry a time
// before it. Within the slack the log is walked; the walk counts only
// entries timed at or after the start.
const mtimeSlack = 2 * time.Second

// stampFiles stats the tenant's database and WAL; false without a database.
func (s *Store) stampFiles(tenant string) (fileStamp, bool) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return fileStamp{}, false
	}
	db, err := os.Stat(filepath.Join(dir, dbFileName))
	if err != nil {
		return fileStamp{}, false
	}
	f := fileStamp{db: db.Size(), dbMod: db.ModTime().UnixNano()}
	if wal, err := os.Stat(filepath.Join(dir, dbFileName+"-wal")); err == nil {
		f.wal, f.wMod = wal.Size(), wal.ModTime().UnixNano()
	}
	return f, true
}

const sqlAuditBack = `SELECT seq, kind, time, detail FROM audit ORDER BY seq DESC`

// readsAfter counts the read entries of the tenant's audit log after seq
// after, walking back from the head; with after 0 (or a head below it: the
// chain restarted), the entries timed at or after since. It returns the
// head's seq.
func (s *Store) readsAfter(tenant string, after int64, since time.Time) (r TenantReads, head int64, err error) {
	s.mu.Lock()
	t := s.tenants[tenant]
	s.mu.Unlock()
	if t != nil {
		t.mu.Lock()
		// The collector's own connection, while it is open on the current
		// file, spares a keyed open.
		if t.conn != nil && t.err == nil && !t.rekeyedLocked() {
			defer t.mu.Unlock()
			st, err := t.stmt(sqlAuditBack)
			if err != nil {
				return r, 0, err
			}
			defer st.Reset()
			return walkReads(st, after, since)
		}
		t.mu.Unlock()
	}
	conn, err := s.openReadOnly(tenant)
	if err != nil {
		return r, 0, err
	}
	defer conn.Close()
	st, _, err := conn.Prepare(sqlAuditBack)
	if err != nil {
		return r, 0, err
	}
	defer st.Close()
	return walkReads(st, after, since)
}

func walkReads(st *sqlite3.Stmt, after int64, since time.Time) (r TenantReads, head int64, err error) {
	for st.Step() {
		seq := st.ColumnInt64(0)
		if head == 0 {
			head = seq
			if head < after {
				after = 0 // a new chain (the tenant was shredded and cleared)
			}
		}
		if seq <= after {
			break
		}
		if after == 0 {
			at, err := time.Parse(time.RFC3339Nano, st.ColumnText(2))
			if err == nil && at.Before(since) {
				break
			}
		}
		if !readKinds[st.ColumnText(1)] {
			continue
		}
		r.N++
		var d struct {
			Actor string `json:"actor"`
		}
		if len(r.Actors) < MaxReadActors && json.Unmarshal([]byte(st.ColumnText(3)), &d) == nil && d.Actor != "" {
			if a := identity.Truncate(d.Actor, maxActorLen); !slices.Contains(r.Actors, a) {
				r.Actors = append(r.Actors, a)
			}
		}
	}
	return r, head, st.Err()
}
