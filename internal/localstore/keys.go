package localstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MasterKeyEnv is the environment variable a master key is read from when
// no key file is given: 64 hex digits or the standard base64 of 32 bytes.
const MasterKeyEnv = "TENANCY_MASTER_KEY"

// KeySize is the length of master and data keys: AES-256 and Adiantum both
// take 32 bytes.
const KeySize = 32

// ErrNoMasterKey is returned when neither a key file nor the environment
// variable holds a master key.
var ErrNoMasterKey = errors.New("localstore: no master key: set " + MasterKeyEnv + " or give a master key file")

// ErrShredded is returned for a tenant whose data key was destroyed.
var ErrShredded = errors.New("localstore: tenant was crypto-shredded")

// LoadMasterKey reads the master key from file when it is not empty, else
// from the environment variable env (MasterKeyEnv when empty). The file or
// value holds 64 hex digits, base64 of 32 bytes, or (files only) the 32
// raw bytes.
func LoadMasterKey(file, env string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("localstore: master key file: %w", err)
		}
		if len(b) == KeySize {
			return b, nil
		}
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("localstore: master key file %s: %w", file, err)
		}
		return k, nil
	}
	if env == "" {
		env = MasterKeyEnv
	}
	v, ok := os.LookupEnv(env)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, ErrNoMasterKey
	}
	k, err := ParseKey(v)
	if err != nil {
		return nil, fmt.Errorf("localstore: %s: %w", env, err)
	}
	return k, nil
}

// ParseKey decodes a 32-byte key written as hex or base64.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	return nil, fmt.Errorf("want %d bytes as 64 hex digits or base64 (e.g. `openssl rand -hex 32`)", KeySize)
}

// KeyID names a master key without revealing it: the first 8 bytes of a
// SHA-256 over a label and the key, in hex. Key files and audit entries
// carry it so an operator can tell which master key wraps what.
func KeyID(master []byte) string {
	h := sha256.New()
	h.Write([]byte("tenancy-localstore-master-key-id\x00"))
	h.Write(master)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// keyFile is a tenant's data key wrapped by the master key (AES-256-GCM,
// the tenant id as additional data so a key file cannot be moved to
// another tenant's folder).
type keyFile struct {
	Version     int       `json:"version"`
	Tenant      string    `json:"tenant"`
	Algorithm   string    `json:"alg"`
	MasterKeyID string    `json:"master_key_id"`
	Nonce       string    `json:"nonce"`
	WrappedKey  string    `json:"wrapped_key"`
	Created     time.Time `json:"created"`
	Rewrapped   time.Time `json:"rewrapped,omitzero"`
	// Secrets holds, wrapped by the master key, the chain key and retired
	// seal keys once the data key was rotated (see tenantKeys).
	Secrets        string    `json:"secrets,omitempty"`
	DataKeyRotated time.Time `json:"data_key_rotated,omitzero"`
}

// Tombstone records a crypto-shredding: written in clear beside the
// unreadable database, it names the last audit entry written before the key
// was destroyed.
type Tombstone struct {
	Tenant        string    `json:"tenant"`
	Time          time.Time `json:"time"`
	Reason        string    `json:"reason"`
	MasterKeyID   string    `json:"master_key_id"`
	AuditHeadSeq  int64     `json:"audit_head_seq"`
	AuditHeadHash string    `json:"audit_head_hash"`
	// Cleared and ClearedBy are set on the record ClearTombstone keeps.
	Cleared   time.Time `json:"cleared,omitzero"`
	ClearedBy string    `json:"cleared_by,omitempty"`
}

const (
	keyFileName   = "data.key"
	dbFileName    = "data.db"
	tombstoneName = "SHREDDED.json"
	wrapAlgorithm = "A256GCM"
)

func wrapAAD(tenant string) []byte { return []byte("tenancy-localstore-data-key:v1:" + tenant) }

func newGCM(master []byte) (cipher.AEAD, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("localstore: master key must be %d bytes, got %d", KeySize, len(master))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func wrapKey(master, dataKey []byte, tenant string) (nonce, wrapped []byte, err error) {
	gcm, err := newGCM(master)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, err
	}
	return nonce, gcm.Seal(nil, nonce, dataKey, wrapAAD(tenant)), nil
}

func unwrapKey(master []byte, kf *keyFile) ([]byte, error) {
	if kf.MasterKeyID != KeyID(master) {
		return nil, fmt.Errorf("localstore: tenant %s: data key is wrapped by master key %s, not by the given key %s", kf.Tenant, kf.MasterKeyID, KeyID(master))
	}
	gcm, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	nonce, err1 := base64.StdEncoding.DecodeString(kf.Nonce)
	wrapped, err2 := base64.StdEncoding.DecodeString(kf.WrappedKey)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: key file: %w", kf.Tenant, err)
	}
	k, err := gcm.Open(nil, nonce, wrapped, wrapAAD(kf.Tenant))
	if err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: unwrap data key: %w", kf.Tenant, err)
	}
	return k, nil
}

func readKeyFile(dir, tenant string) (*keyFile, error) {
	b, err := os.ReadFile(filepath.Join(dir, keyFileName))
	if err != nil {
		return nil, err
	}
	var kf keyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: key file: %w", tenant, err)
	}
	if kf.Tenant != tenant {
		return nil, fmt.Errorf("localstore: key file in %s belongs to tenant %q", dir, kf.Tenant)
	}
	return &kf, nil
}

// writeFileAtomic replaces path with data through a synced temporary file,
// so a crash leaves the old or the new key file, never half of one.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, perm, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// writeAtomic replaces path with what write writes, as writeFileAtomic.
func writeAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeKeyFile(dir string, kf *keyFile) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, keyFileName), append(b, '\n'), 0o600)
}

// loadOrCreateDataKey unwraps the tenant's keys, creating and wrapping a
// random data key for a new tenant under the master key the key set names.
func (s *Store) loadOrCreateDataKey(dir, tenant string) (*tenantKeys, error) {
	if _, err := os.Stat(filepath.Join(dir, tombstoneName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrShredded, tenant)
	}
	kf, err := readKeyFile(dir, tenant)
	if err == nil {
		return unwrapKeys(s.masterFor(kf.MasterKeyID), kf)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, dbFileName)); err == nil {
		return nil, fmt.Errorf("localstore: tenant %s: database exists but its key file is missing", tenant)
	}
	master, err := s.masterForNewTenant()
	if err != nil {
		return nil, err
	}
	dataKey := make([]byte, KeySize)
	if _, err := rand.Read(dataKey); err != nil {
		return nil, err
	}
	nonce, wrapped, err := wrapKey(master, dataKey, tenant)
	if err != nil {
		return nil, err
	}
	kf = &keyFile{Version: 1, Tenant: tenant, Algorithm: wrapAlgorithm, MasterKeyID: KeyID(master),
		Nonce: base64.StdEncoding.EncodeToString(nonce), WrappedKey: base64.StdEncoding.EncodeToString(wrapped),
		Created: time.Now().UTC()}
	if err := writeKeyFile(dir, kf); err != nil {
		return nil, err
	}
	return &tenantKeys{data: dataKey, chain: chainKey(dataKey)}, nil
}

// destroyKeyFile overwrites the key file with random bytes, syncs and
// removes it. On a copy-on-write or journaling filesystem the old blocks
// may survive the overwrite; backups of the key file must be destroyed too.
func destroyKeyFile(dir string) error {
	path := filepath.Join(dir, keyFileName)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		junk := make([]byte, st.Size())
		_, _ = rand.Read(junk)
		_, err = f.WriteAt(junk, 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Remove(path)
}

func writeTombstone(dir string, ts *Tombstone) error {
	b, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, tombstoneName), append(b, '\n'), 0o640)
}

func readTombstone(dir string) (*Tombstone, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, tombstoneName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var ts Tombstone
	if err := json.Unmarshal(b, &ts); err != nil {
		return nil, true, err
	}
	return &ts, true, nil
}
