package localstore

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// BackupFileName describes a tenant backup: what, when, and the audit
// chain head it holds, beside the copied database and wrapped key.
const BackupFileName = "BACKUP.json"

// BackupInfo is the content of BACKUP.json.
type BackupInfo struct {
	Tenant      string    `json:"tenant"`
	Time        time.Time `json:"time"`
	MasterKeyID string    `json:"master_key_id"`
	HeadSeq     int64     `json:"audit_head_seq"`
	HeadHash    string    `json:"audit_head_hash"`
	Entries     int64     `json:"audit_entries"`
	Rows        int64     `json:"rows"`
	Bytes       int64     `json:"bytes"`
}

// Backup copies the tenant's database, online and consistent (SQLite's
// backup API reads one snapshot while the collector goes on writing), to
// out/<tenant>/: data.db still encrypted under the tenant's data key,
// data.key (the key wrapped by the master key, as in the store) and
// BACKUP.json. The copy is verified (audit chain and rows) before it is
// described; the backup is recorded in the tenant's audit log.
func (s *Store) Backup(tenant, out, policyVersion string) (BackupInfo, error) {
	dir, err := s.existingTenantDir(tenant)
	if err != nil {
		return BackupInfo{}, err
	}
	src, keys, err := s.openReadOnlyKey(tenant)
	if err != nil {
		return BackupInfo{}, err
	}
	defer src.Close()
	dst := filepath.Join(out, tenant)
	if _, err := os.Stat(dst); err == nil {
		return BackupInfo{}, fmt.Errorf("localstore: backup of %s: %s exists already", tenant, dst)
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return BackupInfo{}, fmt.Errorf("localstore: %w", err)
	}
	dbPath := filepath.Join(dst, dbFileName)
	if err := src.Backup("main", encryptedURI(dbPath, keys.data)); err != nil {
		return BackupInfo{}, fmt.Errorf("localstore: backup of %s: %w", tenant, err)
	}
	if err := copyFile(filepath.Join(dir, keyFileName), filepath.Join(dst, keyFileName)); err != nil {
		return BackupInfo{}, err
	}
	info, err := verifyCopy(dbPath, keys)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("localstore: backup of %s does not verify: %w", tenant, err)
	}
	kf, err := readKeyFile(dst, tenant)
	if err != nil {
		return BackupInfo{}, err
	}
	info.Tenant, info.Time, info.MasterKeyID = tenant, time.Now().UTC(), kf.MasterKeyID
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return BackupInfo{}, err
	}
	if err := writeFileAtomic(filepath.Join(dst, BackupFileName), append(b, '\n'), 0o640); err != nil {
		return BackupInfo{}, err
	}
	err = s.Audit(tenant, "backup", map[string]any{"to": dst, "audit_head_seq": info.HeadSeq, "audit_head_hash": info.HeadHash, "rows": info.Rows}, policyVersion)
	return info, err
}

// Restore puts a backup (a folder Backup wrote) back into the store as
// its tenant. It refuses a tenant the store holds or shredded (restoring
// would undo the erasure), and a backup whose copy does not verify or
// does not end at the head BACKUP.json names. The restore is recorded in
// the restored tenant's audit log.
func (s *Store) Restore(from, policyVersion string) (BackupInfo, error) {
	var want BackupInfo
	b, err := os.ReadFile(filepath.Join(from, BackupFileName))
	if err != nil {
		return want, fmt.Errorf("localstore: restore: %w", err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		return want, fmt.Errorf("localstore: restore: %s: %w", BackupFileName, err)
	}
	dir, err := s.tenantDir(want.Tenant)
	if err != nil {
		return want, err
	}
	if _, err := os.Stat(filepath.Join(dir, tombstoneName)); err == nil {
		return want, fmt.Errorf("%w: %s: restoring its backup would undo the erasure", ErrShredded, want.Tenant)
	}
	for _, f := range []string{keyFileName, dbFileName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return want, fmt.Errorf("localstore: restore: the store holds tenant %s already (%s)", want.Tenant, f)
		}
	}
	kf, err := readKeyFile(from, want.Tenant)
	if err != nil {
		return want, err
	}
	keys, err := unwrapKeys(s.masterFor(kf.MasterKeyID), kf)
	if err != nil {
		return want, fmt.Errorf("localstore: restore: %w", err)
	}
	got, err := verifyCopy(filepath.Join(from, dbFileName), keys)
	if err != nil {
		return want, fmt.Errorf("localstore: restore: the backup does not verify: %w", err)
	}
	if got.HeadSeq != want.HeadSeq || got.HeadHash != want.HeadHash {
		return want, fmt.Errorf("localstore: restore: the backup's audit chain ends at seq %d, not at seq %d as %s says", got.HeadSeq, want.HeadSeq, BackupFileName)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return want, fmt.Errorf("localstore: %w", err)
	}
	// The database first, the key last: a tenant folder without a key is
	// no tenant (loadOrCreateDataKey refuses a database without one).
	if err := copyFile(filepath.Join(from, dbFileName), filepath.Join(dir, dbFileName)); err != nil {
		return want, err
	}
	if err := copyFile(filepath.Join(from, keyFileName), filepath.Join(dir, keyFileName)); err != nil {
		return want, err
	}
	err = s.Audit(want.Tenant, "restore", map[string]any{"from": from, "backup_time": want.Time, "audit_head_seq": want.HeadSeq, "audit_head_hash": want.HeadHash}, policyVersion)
	return want, err
}

// verifyCopy verifies a database file outside the store with its keys.
func verifyCopy(path string, keys *tenantKeys) (BackupInfo, error) {
	conn, keys, err := openKeyed(path, keys, true)
	if err != nil {
		return BackupInfo{}, err
	}
	defer conn.Close()
	res, err := verifyChain(conn, keys.chain)
	if err != nil {
		return BackupInfo{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, err
	}
	return BackupInfo{HeadSeq: res.HeadSeq, HeadHash: res.HeadHash, Entries: res.Entries, Rows: res.Rows, Bytes: st.Size()}, nil
}

// encryptedURI names a database the backup API writes through the
// encrypting VFS under key (it takes no PRAGMA before it writes).
func encryptedURI(path string, key []byte) string {
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=adiantum&hexkey=" + hex.EncodeToString(key)
}

// copyFile copies src to dst through a synced temporary file.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	defer in.Close()
	if err := writeAtomic(dst, 0o600, func(w io.Writer) error { _, err := io.Copy(w, in); return err }); err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	return nil
}
