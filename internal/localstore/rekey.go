package localstore

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ncruces/go-sqlite3"
)

// rekeyMarker, in a tenant's folder, asks every process writing the tenant
// to close its connection: a data-key rotation is waiting to hold the
// database alone.
const rekeyMarker = "REKEY"

// rekeyWait bounds how long a rotation waits for the other connections
// to close, and a writer for the rotation to end.
var rekeyWait = 30 * time.Second

// DataKeyID names a data key without revealing it (audit entries).
func DataKeyID(dataKey []byte) string {
	h := sha256.New()
	h.Write([]byte("tenancy-localstore-data-key-id\x00"))
	h.Write(dataKey)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// RotateDataKey re-encrypts an existing tenant's database under a new
// random data key, online: a collector writing the tenant (this process
// or another on the same directory) closes its connection at its next
// write, waits while the database is copied, and reopens it under the new
// key. The copy (SQLite's backup API, from a connection that holds the
// database alone) is verified (audit chain and rows) before anything is
// replaced; the key file first names the new key as pending, then the
// database is renamed over, then the key file holds the new key: a crash
// at any point leaves a tenant its key file opens. The audit chain keeps
// its key (so it and its anchors go on verifying) and the old key's seal
// key is kept to open persistent-queue batches sealed before; the old data
// key no longer opens the database. The rotation is recorded in the
// tenant's audit log.
// It returns the old and new keys' DataKeyIDs.
func (s *Store) RotateDataKey(tenant, policyVersion string) (oldID, newID string, err error) {
	dir, err := s.existingTenantDir(tenant)
	if err != nil {
		return "", "", err
	}
	if _, err := os.Stat(filepath.Join(dir, dbFileName)); err != nil {
		return "", "", fmt.Errorf("%w: %s", ErrNoTenant, tenant)
	}
	t, err := s.tenantEntry(tenant)
	if err != nil {
		return "", "", err
	}
	t.mu.Lock()
	oldID, newID, err = s.rekeyLocked(t)
	t.mu.Unlock()
	if err != nil {
		return "", "", fmt.Errorf("localstore: tenant %s: data key rotation: %w (the tenant stays on its old key)", tenant, err)
	}
	if err := s.Audit(tenant, "data_key_rotation", map[string]any{"old_data_key_id": oldID, "new_data_key_id": newID}, policyVersion); err != nil {
		return oldID, newID, fmt.Errorf("localstore: tenant %s: the data key was rotated but its audit entry failed: %w", tenant, err)
	}
	return oldID, newID, nil
}

// rekeyLocked does RotateDataKey's work; t.mu held, so this process's
// writers wait.
func (s *Store) rekeyLocked(t *tenantDB) (oldID, newID string, err error) {
	if err := t.closeLocked(); err != nil {
		return "", "", err
	}
	t.dataKey = nil // reloaded from the key file, whatever happens here
	marker := filepath.Join(t.dir, rekeyMarker)
	if err := writeSynced(marker, []byte(time.Now().UTC().Format(time.RFC3339Nano)+"\n"), 0o640); err != nil {
		return "", "", err
	}
	defer os.Remove(marker)
	kf, err := readKeyFile(t.dir, t.id)
	if err != nil {
		return "", "", err
	}
	master := s.masterFor(kf.MasterKeyID)
	old, err := unwrapKeys(master, kf)
	if err != nil {
		return "", "", err
	}
	dbPath := filepath.Join(t.dir, dbFileName)
	conn, old, err := openAlone(dbPath, old)
	if err != nil {
		return "", "", err
	}
	defer conn.Close()
	newData := make([]byte, KeySize)
	if _, err := rand.Read(newData); err != nil {
		return "", "", err
	}
	next := &tenantKeys{data: newData, chain: old.chain, retiredSeal: append([][]byte{sealKey(old.data)}, old.retiredSeal...)}
	tmp := filepath.Join(t.dir, ".tmp-"+dbFileName+"-rekey")
	removeDBFiles(tmp)
	defer removeDBFiles(tmp)
	if err := conn.Backup("main", encryptedURI(tmp, newData)); err != nil {
		return "", "", fmt.Errorf("copy: %w", err)
	}
	if _, err := verifyCopy(tmp, next); err != nil {
		return "", "", fmt.Errorf("the copy does not verify: %w", err)
	}
	// The key file names the new key as pending before the database
	// moves, so a crash after the rename still opens it (openKeyed).
	pending := *old
	pending.pending = newData
	staged := *kf
	if err := wrapKeys(master, &pending, &staged); err != nil {
		return "", "", err
	}
	if err := writeKeyFile(t.dir, &staged); err != nil {
		return "", "", err
	}
	if s.rekeyFault != nil {
		if err := s.rekeyFault(); err != nil {
			return "", "", errors.Join(err, writeKeyFile(t.dir, kf))
		}
	}
	// The old database's WAL was checkpointed into it when conn took it
	// alone; its -wal and -shm must not be read as the new database's.
	if err := os.Rename(tmp, dbPath); err != nil {
		return "", "", errors.Join(err, writeKeyFile(t.dir, kf))
	}
	for _, f := range []string{dbPath + "-wal", dbPath + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
	}
	final := *kf
	if err := wrapKeys(master, next, &final); err != nil {
		return "", "", err
	}
	final.DataKeyRotated = time.Now().UTC()
	if err := writeKeyFile(t.dir, &final); err != nil {
		// The staged key file opens the new database (pending).
		return "", "", fmt.Errorf("the database is under the new key, but the key file still names it pending: %w", err)
	}
	return DataKeyID(old.data), DataKeyID(newData), nil
}

// openAlone opens the database as the only connection to it (exclusive
// locking), waiting up to rekeyWait for the others to close (writers do
// at their next write, seeing the marker), and checkpoints its WAL into
// the file.
func openAlone(path string, k *tenantKeys) (*sqlite3.Conn, *tenantKeys, error) {
	conn, k, err := openKeyed(path, k, false)
	if err != nil {
		return nil, nil, err
	}
	if err := errors.Join(conn.BusyTimeout(rekeyWait), conn.Exec("PRAGMA locking_mode=exclusive; BEGIN EXCLUSIVE; COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("another process holds the database open (a collector closes it at its next write to the tenant): %w", err)
	}
	return conn, k, nil
}

func removeDBFiles(path string) {
	for _, f := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(f)
	}
}

// waitRekeyLocked, at the start of a write, closes the connection while a
// data-key rotation waits to hold the database alone, and waits for it to
// end; t.mu held. The key is reloaded after.
func (t *tenantDB) waitRekeyLocked() error {
	marker := filepath.Join(t.dir, rekeyMarker)
	if _, err := os.Stat(marker); err != nil {
		return nil
	}
	if err := t.closeLocked(); err != nil {
		return err
	}
	t.dataKey = nil
	deadline := time.Now().Add(2 * rekeyWait)
	for {
		if _, err := os.Stat(marker); err != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("localstore: tenant %s: a data key rotation has held the database for %s (remove %s if no tenancyctl runs)", t.id, 2*rekeyWait, marker)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rekeyScanEvery is how often a store in use looks for rotations waiting
// on the tenants it holds open but is not writing.
const rekeyScanEvery = 500 * time.Millisecond

// releaseRekeying closes, at most every rekeyScanEvery, the open tenants
// (never keep, never one in use) a data-key rotation waits to hold alone:
// a collector busy with other tenants would otherwise keep an idle
// tenant's connection until the rotation gives up.
func (s *Store) releaseRekeying(keep *tenantDB) {
	now := time.Now().UnixNano()
	last := s.rekeyScan.Load()
	if now-last < int64(rekeyScanEvery) || !s.rekeyScan.CompareAndSwap(last, now) {
		return
	}
	for _, t := range s.otherTenants(keep) {
		if !t.mu.TryLock() {
			continue
		}
		if t.conn != nil {
			if _, err := os.Stat(filepath.Join(t.dir, rekeyMarker)); err == nil {
				_ = t.closeLocked()
				t.dataKey = nil
			}
		}
		t.mu.Unlock()
	}
}

// rekeyedLocked reports, once a write holds the database's write lock,
// whether the data key was rotated since the connection was opened (the
// connection may then be on the replaced file); t.mu held.
func (t *tenantDB) rekeyedLocked() bool {
	fi, err := os.Stat(filepath.Join(t.dir, keyFileName))
	if err != nil || t.keyFile == nil || os.SameFile(fi, t.keyFile) {
		return false
	}
	kf, err := readKeyFile(t.dir, t.id)
	if err != nil {
		return false
	}
	if kf.DataKeyRotated.Equal(t.keyRotated) {
		t.keyFile = fi // re-wrapped by a master key rotation: same data key
		return false
	}
	return true
}
