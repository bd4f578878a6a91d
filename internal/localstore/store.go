// Package localstore is Tenancy's embedded default backend: one SQLite
// database file per tenant under a data directory, so tenants are
// physically isolated (a query on one tenant's file cannot see another's
// rows). Each file is encrypted at rest with the tenant's own random data
// key (the Adiantum VFS of github.com/ncruces/go-sqlite3, pure Go, no cgo);
// the data key is wrapped by a master key (AES-256-GCM) in a key file
// beside the database: envelope encryption. Rotating the master key
// re-wraps the key files; destroying a tenant's key file (crypto-shredding)
// leaves its database unreadable. Every database holds an append-only,
// hash-chained audit log of what was ingested, deleted, rotated and queried.
//
// Layout: <dir>/<tenant>/data.db (with -wal and -shm), data.key,
// SHREDDED.json once shredded, and REKEY while its data key is rotated; <dir>/~store/keyset.json names the master
// key in force and <dir>/~store/anchors.jsonl is the anchor log of the
// audit chains ('~' is no tenant id character).
package localstore

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	_ "github.com/ncruces/go-sqlite3/vfs/adiantum"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Store is a directory of per-tenant databases. It is safe for concurrent
// use; writes to one tenant never wait for another tenant's.
type Store struct {
	dir string

	mu      sync.Mutex
	master  []byte
	tenants map[string]*tenantDB
	closed  bool

	open    atomic.Int64 // open connections
	maxOpen atomic.Int64
	clock   atomic.Int64 // orders uses for closing the least recently used
	// rekeyScan is when (unix nanoseconds) open tenants were last looked
	// at for a data-key rotation waiting (releaseRekeying).
	rekeyScan atomic.Int64

	// keySource reads the master key again after a rotation (nil: never).
	keySource func() ([]byte, error)

	// unencrypted opens tenant databases without the encrypting VFS: set
	// only by the benchmark that measures what encryption costs.
	unencrypted bool
	// noRowDigests skips the row hashes of ingest entries: set only by the
	// benchmark that measures what they cost (the chain then does not
	// verify).
	noRowDigests bool
	// rowHash1, when set (tests), makes the store write as a Tenancy of
	// format 2 did: user_version set back to 2 at open, no row hash
	// upgrade, rows hashed under row hash 1 (their resource's JSON): the
	// databases it left, and what it does to one upgraded since.
	rowHash1 bool
	// blockRows, when set (tests and benchmarks), is the only block
	// length ingest inserts rows in besides 1 (h18l_blocks.go); 1 inserts
	// row by row.
	blockRows int
	// rekeyFault, when set (tests), fails a data-key rotation between
	// staging the key file and replacing the database.
	rekeyFault func() error
}

// tenantDB is one tenant's open database: a single writing connection,
// serialized by mu (SQLite has one writer per file anyway).
type tenantDB struct {
	s        *Store
	lastUsed atomic.Int64
	id       string
	dir      string
	dataKey  []byte

	mu    sync.Mutex
	conn  *sqlite3.Conn
	stmts map[string]*sqlite3.Stmt
	err   error // set once the tenant was shredded or failed to open

	// chainKey keys the audit chain and the row hashes (from dataKey);
	// chainKeyed is set once the chain is known to be keyed.
	chainKey   []byte
	chainKeyed bool
	// rowHash is the row hash the connection's writes hash rows under,
	// 0 until its first transaction looks (upgradeRowHash).
	rowHash int
	// retiredSeal are the seal keys of data keys rotated out, pending the
	// key of a rotation that stopped half way (tenantKeys).
	retiredSeal [][]byte
	pending     []byte
	// keyFile and keyRotated are the key file the keys were read from and
	// its data key's rotation time, so a write notices a rotation by
	// another process (rekeyedLocked).
	keyFile    os.FileInfo
	keyRotated time.Time
	rows       *rowHasher
	// jsonBuf is reused for each row's attributes (attrsJSON).
	jsonBuf []byte
	// blockArena holds copies of the attributes of the rows an ingest
	// block has not bound yet, blockPend and blockIDs those rows' values
	// and ids (h18l_blocks.go): reused from one transaction to the next.
	blockArena []byte
	blockPend  []cell
	blockIDs   []int64
	// resIDs caches resources' ids by digest, resAges the resources the
	// transaction wrote rows with (the latest age of their rows), dataVersion the connection's PRAGMA
	// data_version when resIDs was last checked (h18r_resources.go).
	resIDs      map[[32]byte]int64
	resAges     map[int64]int64
	dataVersion int64
	// headSeq is the last audit seq this process wrote, anchoredSeq the
	// last it anchored (Anchors).
	headSeq, anchoredSeq int64
}

// Open opens (creating if needed) the store under dir with the master key.
func Open(dir string, masterKey []byte) (*Store, error) {
	if _, err := newGCM(masterKey); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("localstore: %w", err)
	}
	s := &Store{dir: dir, master: append([]byte(nil), masterKey...), tenants: map[string]*tenantDB{}}
	s.maxOpen.Store(DefaultMaxOpenTenants)
	return s, nil
}

// Dir is the store's data directory.
func (s *Store) Dir() string { return s.dir }

// MasterKeyID names the master key the store wraps data keys with.
func (s *Store) MasterKeyID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return KeyID(s.master)
}

func (s *Store) tenantDir(tenant string) (string, error) {
	if err := policy.ValidateTenantID(tenant); err != nil {
		return "", fmt.Errorf("localstore: %w", err)
	}
	return filepath.Join(s.dir, tenant), nil
}

// tenant returns the tenant's database, opening or creating it, and then
// closes the least recently used connections over the store's limit.
func (s *Store) tenant(tenant string) (*tenantDB, error) {
	t, err := s.tenantEntry(tenant)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	err = t.openLocked()
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.closeIdle(t)
	s.releaseRekeying(t)
	return t, nil
}

// tenantEntry returns the tenant's entry, open or not, adding it.
func (s *Store) tenantEntry(tenant string) (*tenantDB, error) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("localstore: store is closed")
	}
	t, ok := s.tenants[tenant]
	if !ok {
		t = &tenantDB{s: s, id: tenant, dir: dir}
		s.tenants[tenant] = t
	}
	return t, nil
}

// loadKeyLocked loads (creating for a new tenant) the tenant's data key
// if it is not loaded; t.mu held.
func (t *tenantDB) loadKeyLocked() error {
	if t.dataKey != nil {
		return nil
	}
	if err := os.MkdirAll(t.dir, 0o750); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	keys, err := t.s.loadOrCreateDataKey(t.dir, t.id)
	if err != nil {
		return err
	}
	t.setKeysLocked(keys)
	t.keyFile, t.keyRotated = nil, time.Time{}
	if fi, err := os.Stat(filepath.Join(t.dir, keyFileName)); err == nil {
		if kf, err := readKeyFile(t.dir, t.id); err == nil {
			t.keyFile, t.keyRotated = fi, kf.DataKeyRotated
		}
	}
	return nil
}

func (t *tenantDB) setKeysLocked(k *tenantKeys) {
	t.dataKey, t.chainKey, t.retiredSeal, t.pending, t.rows, t.chainKeyed = k.data, k.chain, k.retiredSeal, k.pending, nil, false
}

// openLocked opens the tenant's connection if it is closed; t.mu held.
func (t *tenantDB) openLocked() error {
	t.lastUsed.Store(t.s.clock.Add(1))
	if errors.Is(t.err, ErrShredded) {
		if _, err := os.Stat(filepath.Join(t.dir, tombstoneName)); errors.Is(err, os.ErrNotExist) {
			t.err = nil // an operator cleared the tombstone: the id starts afresh
		}
	}
	if t.err != nil || t.conn != nil {
		return t.err
	}
	t.s.mu.Lock()
	closed := t.s.closed
	t.s.mu.Unlock()
	if closed {
		return errors.New("localstore: store is closed")
	}
	if err := t.loadKeyLocked(); err != nil {
		return err
	}
	var conn *sqlite3.Conn
	var err error
	if t.s.unencrypted {
		conn, err = openPlainConn(filepath.Join(t.dir, dbFileName), nil, false)
	} else {
		keys := &tenantKeys{data: t.dataKey, chain: t.chainKey, retiredSeal: t.retiredSeal, pending: t.pending}
		conn, keys, err = openKeyed(filepath.Join(t.dir, dbFileName), keys, false)
		if err != nil && t.rekeyedLocked() {
			// The key cached here was rotated out by another process.
			t.dataKey = nil
			if err = t.loadKeyLocked(); err != nil {
				return err
			}
			keys = &tenantKeys{data: t.dataKey, chain: t.chainKey, retiredSeal: t.retiredSeal, pending: t.pending}
			conn, keys, err = openKeyed(filepath.Join(t.dir, dbFileName), keys, false)
		}
		if err == nil {
			t.setKeysLocked(keys)
		}
	}
	if err != nil {
		return fmt.Errorf("localstore: tenant %s: %w", t.id, err)
	}
	if err := knownFormat(conn); err != nil {
		conn.Close()
		return fmt.Errorf("localstore: tenant %s: %w", t.id, err)
	}
	if err := conn.Exec(schema); err != nil {
		conn.Close()
		return fmt.Errorf("localstore: tenant %s: schema: %w", t.id, err)
	}
	if err := migrate(conn); err != nil {
		conn.Close()
		return fmt.Errorf("localstore: tenant %s: migrate: %w", t.id, err)
	}
	if t.s.rowHash1 {
		if err := conn.Exec(fmt.Sprintf("PRAGMA user_version=%d", viewsVersion)); err != nil {
			conn.Close()
			return err
		}
	}
	t.rowHash = 0
	t.conn, t.stmts = conn, map[string]*sqlite3.Stmt{}
	t.s.open.Add(1)
	return nil
}

// DefaultMaxOpenTenants bounds open connections: each costs about 0.4 MiB
// (SQLite's memory and page cache), so 10,000 tenants would not fit open.
const DefaultMaxOpenTenants = 256

// SetMaxOpenTenants sets how many tenant databases stay open; the least
// recently used are closed beyond it and reopened on their next write.
func (s *Store) SetMaxOpenTenants(n int) {
	if n < 1 {
		n = 1
	}
	s.maxOpen.Store(int64(n))
}

// otherTenants is every tenant entry but keep.
func (s *Store) otherTenants(keep *tenantDB) []*tenantDB {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*tenantDB, 0, len(s.tenants))
	for _, t := range s.tenants {
		if t != keep {
			out = append(out, t)
		}
	}
	return out
}

// closeIdle closes the least recently used connections over the limit,
// never keep's, and never one in use (it skips locked tenants).
func (s *Store) closeIdle(keep *tenantDB) {
	over := s.open.Load() - s.maxOpen.Load()
	if over <= 0 {
		return
	}
	cands := s.otherTenants(keep)
	sort.Slice(cands, func(i, j int) bool { return cands[i].lastUsed.Load() < cands[j].lastUsed.Load() })
	for _, t := range cands {
		if over <= 0 {
			return
		}
		if !t.mu.TryLock() {
			continue
		}
		if t.conn != nil {
			_ = t.closeLocked()
			over--
		}
		t.mu.Unlock()
	}
}

// OpenTenants is how many tenant databases are open now.
func (s *Store) OpenTenants() int { return int(s.open.Load()) }

// openConn opens an encrypted database. The key goes in by PRAGMA, not in
// the URI, so it is not visible through the connection's file name.
func openConn(path string, key []byte, readOnly bool) (*sqlite3.Conn, error) {
	// Writers go through walBatchVFS: adiantum, writing an ingest
	// transaction's WAL frames in one run (h18s_walbatch.go).
	name := walBatchVFS
	if readOnly {
		name = "adiantum"
	}
	uri := "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=" + name
	flags := sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE | sqlite3.OPEN_URI
	if readOnly {
		flags = sqlite3.OPEN_READONLY | sqlite3.OPEN_URI
	}
	conn, err := sqlite3.OpenFlags(uri, flags)
	if err != nil {
		return nil, err
	}
	setup := "PRAGMA hexkey='" + hex.EncodeToString(key) + "';" +
		"PRAGMA temp_store=memory;" // temporary files would be encrypted with random keys; keep them in memory
	if !readOnly {
		setup += "PRAGMA journal_mode=wal; PRAGMA synchronous=normal;"
	}
	if err := conn.BusyTimeout(30 * time.Second); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Exec(setup); err != nil {
		conn.Close()
		return nil, err
	}
	// Reading the schema proves the key: a wrong one fails here with
	// "file is not a database".
	if err := conn.Exec("SELECT count(*) FROM sqlite_schema"); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// openPlainConn opens a database as openConn does, but in clear: the
// baseline of the encryption benchmark, never used by a Store otherwise.
func openPlainConn(path string, _ []byte, _ bool) (*sqlite3.Conn, error) {
	conn, err := sqlite3.OpenFlags("file:"+(&url.URL{Path: path}).EscapedPath(), sqlite3.OPEN_READWRITE|sqlite3.OPEN_CREATE|sqlite3.OPEN_URI)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(conn.BusyTimeout(30*time.Second), conn.Exec("PRAGMA temp_store=memory; PRAGMA journal_mode=wal; PRAGMA synchronous=normal;")); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// stmt returns a prepared statement cached on the tenant's connection.
// The caller holds t.mu.
func (t *tenantDB) stmt(sql string) (*sqlite3.Stmt, error) {
	if st, ok := t.stmts[sql]; ok {
		return st, nil
	}
	st, _, err := t.conn.Prepare(sql)
	if err != nil {
		return nil, err
	}
	t.stmts[sql] = st
	return st, nil
}

// closeLocked closes the connection; the caller holds t.mu.
func (t *tenantDB) closeLocked() error {
	if t.conn == nil {
		return nil
	}
	for _, st := range t.stmts {
		st.Close()
	}
	t.stmts = nil
	t.dropResourceCache()
	err := t.conn.Close()
	t.conn = nil
	t.s.open.Add(-1)
	return err
}

// inTx runs fn in an immediate transaction on the tenant's connection,
// first checking that the tenant was not shredded meanwhile (by tenancyctl
// in another process).
func (t *tenantDB) inTx(fn func() error) error { return t.inTxBatch(false, fn) }

// inTxBatch is inTx; with batch, the transaction's WAL frames are written
// in one run at its commit (walBatchVFS): for ingest, whose transactions
// are as large as a batch. Not for retention or a rotation, whose
// transactions may be as large as the database.
func (t *tenantDB) inTxBatch(batch bool, fn func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	if _, err := os.Stat(filepath.Join(t.dir, tombstoneName)); err == nil {
		t.err = fmt.Errorf("%w: %s", ErrShredded, t.id)
		_ = t.closeLocked()
		t.dataKey = nil
		return t.err
	}
	if err := t.waitRekeyLocked(); err != nil {
		return err
	}
	if err := t.openLocked(); err != nil { // closed while idle: reopen
		return err
	}
	if err := t.conn.Exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if t.rekeyedLocked() {
		// Rotated by another process since this connection opened: it may
		// be on the replaced file. Reopen under the new key.
		_ = t.conn.Exec("ROLLBACK")
		_ = t.closeLocked()
		t.dataKey = nil
		if err := t.openLocked(); err != nil {
			return err
		}
		if err := t.conn.Exec("BEGIN IMMEDIATE"); err != nil {
			return err
		}
	}
	if err := t.checkDataVersion(); err != nil {
		_ = t.conn.Exec("ROLLBACK")
		return err
	}
	// The upgrades' state is the transaction's: kept only if it commits
	// (a rolled back upgrade entry must be appended again).
	keyed, rowHash := t.chainKeyed, t.rowHash
	rollback := func() {
		_ = t.conn.Exec("ROLLBACK")
		t.chainKeyed, t.rowHash = keyed, rowHash
	}
	now := time.Now()
	if err := t.upgradeChain(now); err != nil {
		rollback()
		return err
	}
	if err := t.upgradeRowHash(now); err != nil {
		rollback()
		return err
	}
	if batch && !t.s.unencrypted {
		if err := t.conn.Exec("PRAGMA " + walBatchPragma + "=1"); err != nil {
			rollback()
			return err
		}
		// Disarmed once the transaction is over, committed or not:
		// frames of one that did not commit are dropped, never written.
		defer func() { _ = t.conn.Exec("PRAGMA " + walBatchPragma + "=0") }()
	}
	if err := fn(); err != nil {
		rollback()
		t.dropResourceCache()
		return err
	}
	if err := t.conn.Exec("COMMIT"); err != nil {
		t.chainKeyed, t.rowHash = keyed, rowHash
		t.dropResourceCache()
		if !t.s.unencrypted {
			_ = t.conn.Exec("PRAGMA " + walBatchPragma + "=" + walBatchForget)
		}
		return err
	}
	return nil
}

// Tenants lists the tenants that have a folder in the store, sorted.
func (s *Store) Tenants() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && policy.ValidateTenantID(e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Close closes every open database.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	tenants := s.tenants
	s.tenants = map[string]*tenantDB{}
	s.mu.Unlock()
	var errs []error
	for _, t := range tenants {
		t.mu.Lock()
		errs = append(errs, t.closeLocked())
		t.mu.Unlock()
	}
	return errors.Join(errs...)
}

// RotateMasterKey re-wraps every tenant's data key with newMaster, all or
// nothing: every re-wrap is prepared before any key file is replaced, and
// an error names each tenant that could not be and leaves every key file
// as it was. Tenants wrapped by newMaster already (a rotation that stopped
// half way) are kept. Then the key set names newMaster, so a collector
// still holding the old key refuses to create tenants under it, and each
// re-wrapped tenant's audit log records the rotation. Data keys and
// database files are unchanged.
func (s *Store) RotateMasterKey(newMaster []byte, policyVersion string) error {
	if _, err := newGCM(newMaster); err != nil {
		return err
	}
	s.mu.Lock()
	oldMaster := s.master
	s.mu.Unlock()
	tenants, err := s.keyedTenants()
	if err != nil {
		return err
	}
	dirOf := func(tn string) string { return filepath.Join(s.dir, tn) }
	done, err := rotation(dirOf, tenants, oldMaster, newMaster)
	if err != nil {
		return err
	}
	if err := writeKeySet(s.dir, KeyID(newMaster)); err != nil {
		return fmt.Errorf("localstore: every key file was re-wrapped, but the key set was not updated: %w", err)
	}
	s.mu.Lock()
	s.master = append([]byte(nil), newMaster...)
	s.mu.Unlock()
	// A tenant a collector created under the old key while the key files
	// were being prepared is caught here: the key set already names the
	// new key, so no more can appear.
	again, err := s.keyedTenants()
	if err != nil {
		return err
	}
	late := slices.DeleteFunc(again, func(tn string) bool { return slices.Contains(tenants, tn) })
	more, err := rotation(dirOf, late, oldMaster, newMaster)
	if err != nil {
		return fmt.Errorf("localstore: tenants created during the rotation: %w", err)
	}
	return s.auditRotation(append(done, more...), KeyID(oldMaster), KeyID(newMaster), policyVersion)
}

func (s *Store) auditRotation(tenants []string, oldID, newID, policyVersion string) error {
	var errs []error
	for _, tn := range tenants {
		if err := s.Audit(tn, "key_rotation", map[string]any{"old_master_key_id": oldID, "new_master_key_id": newID}, policyVersion); err != nil {
			errs = append(errs, fmt.Errorf("localstore: tenant %s: the key was re-wrapped but its audit entry failed: %w", tn, err))
		}
	}
	return errors.Join(errs...)
}

// RewrapTenant re-wraps one existing tenant's data key with newMaster; it
// refuses a tenant the store does not hold (ErrNoTenant) and creates
// nothing. The store keeps its master key and the key set is unchanged:
// RotateMasterKey moves the whole store.
func (s *Store) RewrapTenant(tenant string, newMaster []byte, policyVersion string) error {
	if _, err := newGCM(newMaster); err != nil {
		return err
	}
	dir, err := s.existingTenantDir(tenant)
	if err != nil {
		return err
	}
	// Opened first, so its data key is cached for the audit entry after
	// the store's own master key no longer unwraps it.
	if _, err := s.tenant(tenant); err != nil {
		return err
	}
	s.mu.Lock()
	oldMaster := s.master
	s.mu.Unlock()
	done, err := rotation(func(string) string { return dir }, []string{tenant}, oldMaster, newMaster)
	if err != nil {
		return err
	}
	// The tenant's cached data key is unchanged; only the wrapping moved.
	return s.auditRotation(done, KeyID(oldMaster), KeyID(newMaster), policyVersion)
}

// Shred destroys the tenant's data key, so its database can never be read
// again, after appending a "shred" entry to its audit log; a tombstone file
// records when, why and the last audit entry. Writes to the tenant fail
// with ErrShredded from then on.
//
// A tenant the store does not hold is refused (ErrNoTenant) and nothing is
// created: an erasure request with a mistyped id must not print success
// while the real tenant's data remains.
func (s *Store) Shred(tenant, reason, policyVersion string) (*Tombstone, error) {
	if _, err := s.existingTenantDir(tenant); err != nil {
		return nil, err
	}
	t, err := s.tenant(tenant)
	if err != nil {
		return nil, err
	}
	var head auditHead
	err = t.inTx(func() error {
		var err error
		head, err = t.appendAudit(time.Now(), "shred", map[string]any{"reason": reason}, policyVersion)
		return err
	})
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.closeLocked(); err != nil {
		return nil, err
	}
	t.dataKey = nil
	ts := &Tombstone{Tenant: tenant, Time: time.Now().UTC(), Reason: reason, MasterKeyID: s.MasterKeyID(),
		AuditHeadSeq: head.seq, AuditHeadHash: head.hash}
	if err := writeTombstone(t.dir, ts); err != nil {
		return nil, err
	}
	if err := destroyKeyFile(t.dir); err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: destroy key: %w", tenant, err)
	}
	t.err = fmt.Errorf("%w: %s", ErrShredded, tenant)
	return ts, nil
}

// ReadTombstone returns the tenant's shredding record, if it was shredded.
func (s *Store) ReadTombstone(tenant string) (*Tombstone, bool, error) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return nil, false, err
	}
	return readTombstone(dir)
}

// ClearTombstone lets a shredded tenant id be used again. Until then every
// write for it is refused (ErrShredded), so data arriving after an erasure
// is not stored under a fresh key as if nothing happened. The unreadable
// database files go; the tombstone stays as the erasure's record, renamed
// SHREDDED-<time>.json with who cleared it and when. It returns that
// record; a tenant that is not shredded is refused.
func (s *Store) ClearTombstone(tenant, by string) (*Tombstone, error) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return nil, err
	}
	ts, ok, err := readTombstone(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("localstore: tenant %s is not shredded", tenant)
	}
	now := time.Now().UTC()
	ts.Cleared, ts.ClearedBy = now, by
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return nil, err
	}
	// The record first and the tombstone last: a crash half way leaves
	// the tenant refused, never cleared without a record.
	if err := writeFileAtomic(filepath.Join(dir, "SHREDDED-"+now.Format("20060102T150405.000000000Z")+".json"), append(b, '\n'), 0o640); err != nil {
		return nil, err
	}
	for _, f := range []string{dbFileName, dbFileName + "-wal", dbFileName + "-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.Remove(filepath.Join(dir, tombstoneName)); err != nil {
		return nil, err
	}
	return ts, nil
}
