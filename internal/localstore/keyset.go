package localstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// keySetName is the store-wide record of the master key in force: a
// collector still holding an older key refuses to create tenants under
// it, and one given a wrong key refuses to start (CheckKeys).
const keySetName = "keyset.json"

// storeFilesDir holds the store's own files (the key set, the anchor
// log) beside the tenant folders. '~' is not a tenant id character, so no
// tenant's folder can take its name, and a tenant may be called
// "keyset.json".
const storeFilesDir = "~store"

// storeFile is the path of one of the store's own files.
func storeFile(dir, name string) string { return filepath.Join(dir, storeFilesDir, name) }

// ErrStaleMasterKey is returned when the store's master key was rotated
// since this process loaded its key: a tenant created now would be
// wrapped by a key the rest of the store no longer uses.
var ErrStaleMasterKey = errors.New("localstore: the store's master key was rotated")

type keySet struct {
	Version     int       `json:"version"`
	MasterKeyID string    `json:"master_key_id"`
	Updated     time.Time `json:"updated"`
}

func readKeySet(dir string) (*keySet, error) {
	b, err := os.ReadFile(storeFile(dir, keySetName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // a store written before the key set existed
	}
	if err != nil {
		return nil, fmt.Errorf("localstore: key set: %w", err)
	}
	var ks keySet
	if err := json.Unmarshal(b, &ks); err != nil {
		return nil, fmt.Errorf("localstore: key set %s: %w", storeFile(dir, keySetName), err)
	}
	return &ks, nil
}

func writeKeySet(dir, masterKeyID string) error {
	b, err := json.MarshalIndent(keySet{Version: 1, MasterKeyID: masterKeyID, Updated: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, storeFilesDir), 0o750); err != nil {
		return err
	}
	return writeFileAtomic(storeFile(dir, keySetName), append(b, '\n'), 0o640)
}

// SetMasterKeySource gives the store a way to read its master key again
// (the collector's key file): when the key set says the key was rotated,
// the store reloads before it refuses to create a tenant.
func (s *Store) SetMasterKeySource(load func() ([]byte, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keySource = load
}

// masterForNewTenant returns the master key to wrap a new tenant's data
// key with: the store's, once the key set agrees (reloading it from the
// key source if the key set moved on). An absent key set is written, so
// the first tenant records the key in force.
func (s *Store) masterForNewTenant() ([]byte, error) {
	ks, err := readKeySet(s.dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ks == nil {
		return s.master, writeKeySet(s.dir, KeyID(s.master))
	}
	if ks.MasterKeyID == KeyID(s.master) {
		return s.master, nil
	}
	if s.keySource != nil {
		if k, err := s.keySource(); err == nil && KeyID(k) == ks.MasterKeyID {
			s.master = k
			return s.master, nil
		}
	}
	return nil, fmt.Errorf("%w to %s; this process holds %s: give it the new master key and restart it before new tenants can be stored",
		ErrStaleMasterKey, ks.MasterKeyID, KeyID(s.master))
}

// CheckKeys proves the master key before any data arrives: it unwraps
// every tenant's data key (shredded tenants aside) and compares the key
// set. It names the tenants it cannot unwrap. On a store written before
// the key set existed it writes one once every tenant unwraps.
func (s *Store) CheckKeys() error {
	tenants, err := s.Tenants()
	if err != nil {
		return fmt.Errorf("localstore: %w", err)
	}
	s.mu.Lock()
	master := s.master
	s.mu.Unlock()
	id := KeyID(master)
	var bad []string
	for _, tn := range tenants {
		dir := filepath.Join(s.dir, tn)
		if _, err := os.Stat(filepath.Join(dir, tombstoneName)); err == nil {
			continue
		}
		kf, err := readKeyFile(dir, tn)
		if errors.Is(err, os.ErrNotExist) {
			continue // a folder without a key holds no data (see loadOrCreateDataKey)
		}
		if err == nil {
			_, err = unwrapKeys(master, kf)
		}
		if err != nil {
			bad = append(bad, err.Error())
		}
	}
	ks, err := readKeySet(s.dir)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		shown := bad
		if len(shown) > 5 {
			shown = append(shown[:5:5], fmt.Sprintf("and %d more", len(bad)-5))
		}
		return fmt.Errorf("localstore: master key %s does not unwrap %d of %d tenants' data keys (wrong master key, or a key rotation to finish with tenancyctl keys rotate): %s",
			id, len(bad), len(tenants), strings.Join(shown, "; "))
	}
	if ks != nil && ks.MasterKeyID != id {
		return fmt.Errorf("localstore: the store's master key is %s (%s), not the given key %s", ks.MasterKeyID, storeFile(s.dir, keySetName), id)
	}
	if ks == nil {
		return writeKeySet(s.dir, id)
	}
	return nil
}

// rewrap is one tenant's key file prepared for a rotation: the old bytes,
// to put back if the swap fails, and the new file written beside it.
type rewrap struct {
	tenant   string
	dir      string
	old      []byte
	prepared string // "" when the key file is wrapped by the new key already
}

// prepareRewrap writes the tenant's data key wrapped by newMaster to a
// synced temporary file beside its key file, changing nothing yet. A
// tenant already wrapped by newMaster (a rotation that stopped half way)
// needs nothing but proof that newMaster unwraps it.
func prepareRewrap(dir, tenant string, oldMaster, newMaster []byte) (*rewrap, error) {
	path := filepath.Join(dir, keyFileName)
	old, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: %w", tenant, err)
	}
	kf, err := readKeyFile(dir, tenant)
	if err != nil {
		return nil, err
	}
	rw := &rewrap{tenant: tenant, dir: dir, old: old}
	if kf.MasterKeyID == KeyID(newMaster) {
		_, err := unwrapKeys(newMaster, kf)
		return rw, err
	}
	keys, err := unwrapKeys(oldMaster, kf)
	if err != nil {
		return nil, err
	}
	if err := wrapKeys(newMaster, keys, kf); err != nil {
		return nil, err
	}
	kf.Rewrapped = time.Now().UTC()
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return nil, err
	}
	rw.prepared = filepath.Join(dir, ".tmp-"+keyFileName+"-rotate")
	if err := writeSynced(rw.prepared, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: %w", tenant, err)
	}
	return rw, nil
}

func writeSynced(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		_ = os.Remove(path) // a half-written marker or key file must not stay
	}
	return err
}

// rotation re-wraps the given tenants' data keys all or nothing: every
// re-wrap is prepared first; only when all are, each is renamed over its
// key file; a rename that fails puts the ones done back. It returns the
// tenants whose key file changed.
func rotation(dirOf func(string) string, tenants []string, oldMaster, newMaster []byte) ([]string, error) {
	var prepared []*rewrap
	var errs []error
	for _, tn := range tenants {
		rw, err := prepareRewrap(dirOf(tn), tn, oldMaster, newMaster)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		prepared = append(prepared, rw)
	}
	if len(errs) > 0 {
		for _, rw := range prepared {
			if rw.prepared != "" {
				os.Remove(rw.prepared)
			}
		}
		return nil, fmt.Errorf("nothing was changed: %w", errors.Join(errs...))
	}
	var done []string
	for i, rw := range prepared {
		if rw.prepared == "" {
			continue
		}
		if err := os.Rename(rw.prepared, filepath.Join(rw.dir, keyFileName)); err != nil {
			errs = append(errs, fmt.Errorf("localstore: tenant %s: %w", rw.tenant, err))
			for _, back := range prepared[:i] {
				if back.prepared != "" {
					errs = append(errs, writeFileAtomic(filepath.Join(back.dir, keyFileName), back.old, 0o600))
				}
			}
			for _, rest := range prepared[i:] {
				if rest.prepared != "" {
					os.Remove(rest.prepared)
				}
			}
			return nil, fmt.Errorf("nothing was changed: %w", errors.Join(errs...))
		}
		done = append(done, rw.tenant)
	}
	return done, nil
}

// keyedTenants lists the tenants that have a key file (shredded ones and
// folders without a key aside).
func (s *Store) keyedTenants() ([]string, error) {
	all, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, tn := range all {
		if _, err := os.Stat(filepath.Join(s.dir, tn, keyFileName)); err == nil {
			out = append(out, tn)
		}
	}
	return out, nil
}

// masterFor returns the master key to unwrap a key file wrapped by id:
// the store's, or the key source's when that is the one (the store was
// rotated while this process ran), which then becomes the store's.
func (s *Store) masterFor(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if KeyID(s.master) == id || s.keySource == nil {
		return s.master
	}
	if k, err := s.keySource(); err == nil && KeyID(k) == id {
		s.master = k
	}
	return s.master
}

// existingTenantDir is the folder of a tenant the store holds: one with a
// key file. A shredded tenant is ErrShredded, any other ErrNoTenant; a
// command aimed at a mistyped id must not create it.
func (s *Store) existingTenantDir(tenant string) (string, error) {
	dir, err := s.tenantDir(tenant)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, tombstoneName)); err == nil {
		return "", fmt.Errorf("%w: %s", ErrShredded, tenant)
	}
	if _, err := os.Stat(filepath.Join(dir, keyFileName)); err != nil {
		return "", fmt.Errorf("%w: %s", ErrNoTenant, tenant)
	}
	return dir, nil
}
