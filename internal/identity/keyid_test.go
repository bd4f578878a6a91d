package identity

import (
	"crypto/sha256"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKeyIDOfDigest(t *testing.T) {
	const key = "acme-demo-key-0000000000000001"
	assert.Equal(t, KeyID(key), KeyIDOfDigest(sha256.Sum256([]byte(key))))
	assert.Equal(t, "key:"+"8d969eef6eca", KeyIDOfDigest(sha256.Sum256([]byte("123456"))))
}
