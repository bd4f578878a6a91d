package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// FingerprintBytes is the length of tenant.fingerprint before hex encoding.
const FingerprintBytes = 16

// MinSecretLength is the shortest fingerprint secret a component accepts:
// it keeps fingerprints from being brute-forced back to ids.
const MinSecretLength = 16

// Fingerprint is the non-reversible tenant fingerprint of docs/design.md: hex of
// HMAC-SHA256(secret, id) truncated to 16 bytes. Every component that stamps
// one calls this, so fingerprints from one secret agree across components.
func Fingerprint(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:FingerprintBytes])
}
