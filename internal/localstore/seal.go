package localstore

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Seal encrypts data that belongs to a tenant but lives outside its
// database (the router's persistent queue) under a key derived from the
// tenant's data key, AES-256-GCM with aad bound in. Shredding the tenant
// makes it unreadable with the rest of the tenant's data. A new tenant
// gets its data key (not yet its database).
func (s *Store) Seal(tenant string, aad, data []byte) ([]byte, error) {
	gcms, err := s.sealAEADs(tenant, true)
	if err != nil {
		return nil, err
	}
	gcm := gcms[0]
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(data)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, data, aad), nil
}

// Unseal decrypts what Seal sealed for the tenant with the same aad. A
// shredded tenant's is ErrShredded.
func (s *Store) Unseal(tenant string, aad, sealed []byte) ([]byte, error) {
	var out []byte
	gcms, err := s.sealAEADs(tenant, false)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcms[0].NonceSize() {
		return nil, fmt.Errorf("localstore: tenant %s: sealed data of %d bytes", tenant, len(sealed))
	}
	// The current data key's first, then those rotated out since the
	// batch was sealed.
	for _, gcm := range gcms {
		if out, err = gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad); err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: tenant %s: %w", ErrUnsealable, tenant, err)
}

// ErrUnsealable is returned for sealed data the tenant's data key does not
// open: sealed under a key destroyed since (the tenant was shredded and its
// id cleared), or for another place.
var ErrUnsealable = errors.New("localstore: the tenant's data key does not open the sealed data")

// sealAEADs are the tenant's seal ciphers: its data key's, then the
// retired ones'.
func (s *Store) sealAEADs(tenant string, create bool) ([]cipher.AEAD, error) {
	t, err := s.tenantEntry(tenant)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(t.dir, tombstoneName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrShredded, tenant)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dataKey == nil && !create {
		if _, err := os.Stat(filepath.Join(t.dir, keyFileName)); err != nil {
			// Shredded, and its id cleared since: what was sealed is the
			// erased tenant's. Without that record the store may simply
			// be the wrong one: say so, do not let data be dropped.
			if erased, _ := filepath.Glob(filepath.Join(t.dir, "SHREDDED-*.json")); len(erased) > 0 {
				return nil, fmt.Errorf("%w (its id was cleared since): %s", ErrShredded, tenant)
			}
			return nil, fmt.Errorf("%w: %s", ErrNoTenant, tenant)
		}
	}
	if err := t.loadKeyLocked(); err != nil {
		return nil, err
	}
	var out []cipher.AEAD
	for _, k := range append([][]byte{sealKey(t.dataKey)}, t.retiredSeal...) {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		out = append(out, gcm)
	}
	return out, nil
}
