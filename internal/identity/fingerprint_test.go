package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFingerprintStableAndKeyed(t *testing.T) {
	const secret = "test-secret-0123456789"
	a := Fingerprint([]byte(secret), "acme")
	assert.Len(t, a, 2*FingerprintBytes)
	assert.Equal(t, a, Fingerprint([]byte(secret), "acme"), "stable across instances sharing the secret")
	assert.NotEqual(t, a, Fingerprint([]byte("another-secret-0001"), "acme"))
	assert.NotEqual(t, a, Fingerprint([]byte(secret), "acmf"))
	assert.NotContains(t, a, "acme")
	// Pinned (openssl dgst -sha256 -hmac): stored fingerprints must survive upgrades.
	assert.Equal(t, "42b952688426c9f2ff1e0b9514c94f4f", a)
}
