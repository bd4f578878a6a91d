package identity

import (
	"crypto/sha256"
	"encoding/hex"
)

// KeyIDOfDigest is the KeyID of the API key whose SHA-256 digest is sum:
// the policy keeps only digests, and names its keys' ids from them.
func KeyIDOfDigest(sum [sha256.Size]byte) string {
	return "key:" + hex.EncodeToString(sum[:6])
}
