package localstore

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/ncruces/go-sqlite3"
)

// tenantKeys are the secrets a tenant's key file holds. A tenant that
// never rotated its data key derives the others from it; after a data-key
// rotation (RotateDataKey) the chain key stays what it was, so the audit
// chain, its row hashes and its anchors go on verifying, and the seal keys
// of the data keys rotated out are kept so the router still opens the
// persistent-queue batches sealed under them.
type tenantKeys struct {
	data  []byte
	chain []byte
	// retiredSeal are seal keys of earlier data keys, newest first.
	retiredSeal [][]byte
	// pending is the data key a rotation that stopped between replacing
	// the database and the key file may have left the database under.
	pending []byte
}

// keySecrets is the JSON, wrapped by the master key, of what a key file
// holds beside the data key once the data key was rotated.
type keySecrets struct {
	Chain       []byte   `json:"chain"`
	RetiredSeal [][]byte `json:"retired_seal,omitempty"`
	Pending     []byte   `json:"pending,omitempty"`
}

func secretsAAD(tenant string) []byte { return []byte("tenancy-localstore-key-secrets:v1:" + tenant) }

// sealKey derives the key persistent-queue batches are sealed under.
func sealKey(dataKey []byte) []byte {
	m := hmac.New(sha256.New, dataKey)
	m.Write([]byte("tenancy-localstore-seal:v1"))
	return m.Sum(nil)
}

// unwrapKeys unwraps every secret of kf with master.
func unwrapKeys(master []byte, kf *keyFile) (*tenantKeys, error) {
	data, err := unwrapKey(master, kf)
	if err != nil {
		return nil, err
	}
	k := &tenantKeys{data: data, chain: chainKey(data)}
	if kf.Secrets == "" {
		return k, nil
	}
	gcm, err := newGCM(master)
	if err != nil {
		return nil, err
	}
	sealed, err := base64.StdEncoding.DecodeString(kf.Secrets)
	if err != nil || len(sealed) < gcm.NonceSize() {
		return nil, fmt.Errorf("localstore: tenant %s: key file secrets are malformed", kf.Tenant)
	}
	plain, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], secretsAAD(kf.Tenant))
	if err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: unwrap key file secrets: %w", kf.Tenant, err)
	}
	var ks keySecrets
	if err := json.Unmarshal(plain, &ks); err != nil {
		return nil, fmt.Errorf("localstore: tenant %s: key file secrets: %w", kf.Tenant, err)
	}
	k.chain, k.retiredSeal, k.pending = ks.Chain, ks.RetiredSeal, ks.Pending
	return k, nil
}

// wrapKeys writes k into kf wrapped by master: the data key, and the other
// secrets when they are not the data key's own derivations.
func wrapKeys(master []byte, k *tenantKeys, kf *keyFile) error {
	nonce, wrapped, err := wrapKey(master, k.data, kf.Tenant)
	if err != nil {
		return err
	}
	kf.MasterKeyID = KeyID(master)
	kf.Nonce = base64.StdEncoding.EncodeToString(nonce)
	kf.WrappedKey = base64.StdEncoding.EncodeToString(wrapped)
	kf.Secrets = ""
	if bytes.Equal(k.chain, chainKey(k.data)) && len(k.retiredSeal) == 0 && k.pending == nil {
		return nil
	}
	plain, err := json.Marshal(keySecrets{Chain: k.chain, RetiredSeal: k.retiredSeal, Pending: k.pending})
	if err != nil {
		return err
	}
	gcm, err := newGCM(master)
	if err != nil {
		return err
	}
	sealed := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(sealed); err != nil {
		return err
	}
	kf.Secrets = base64.StdEncoding.EncodeToString(gcm.Seal(sealed, sealed, plain, secretsAAD(kf.Tenant)))
	return nil
}

// openKeyed opens the database at path with the tenant's data key, or,
// when that does not open it, with the pending key of a rotation that
// stopped after replacing the database: the keys returned are then the
// ones in force (the pending key as the data key, the other retired).
func openKeyed(path string, k *tenantKeys, readOnly bool) (*sqlite3.Conn, *tenantKeys, error) {
	conn, err := openConn(path, k.data, readOnly)
	if err == nil || k.pending == nil {
		return conn, k, err
	}
	conn, err2 := openConn(path, k.pending, readOnly)
	if err2 != nil {
		return nil, nil, err
	}
	return conn, &tenantKeys{data: k.pending, chain: k.chain, retiredSeal: append([][]byte{sealKey(k.data)}, k.retiredSeal...)}, nil
}
