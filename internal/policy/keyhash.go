package policy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeyHashPrefix names the hash function of a stored API key hash.
//
// API keys are random, high-entropy tokens, so one SHA-256 pass is enough to
// make a leaked policy file useless to an attacker; a slow password hash
// (bcrypt, argon2) would cost milliseconds on every request for no gain.
const KeyHashPrefix = "sha256:"

// MinAPIKeyLength refuses keys too short to be random tokens.
const MinAPIKeyLength = 16

// KeyHash is the SHA-256 digest of an API key.
type KeyHash [sha256.Size]byte

// HashAPIKey returns the policy form of a key: "sha256:<64 hex digits>".
func HashAPIKey(key string) (string, error) {
	key = strings.TrimSpace(key)
	if len(key) < MinAPIKeyLength {
		return "", fmt.Errorf("API key is %d characters long; use at least %d random characters", len(key), MinAPIKeyLength)
	}
	sum := sha256.Sum256([]byte(key))
	return KeyHashPrefix + hex.EncodeToString(sum[:]), nil
}

// ParseKeyHash reads the policy form written by HashAPIKey.
func ParseKeyHash(s string) (KeyHash, error) {
	var h KeyHash
	hexPart, ok := strings.CutPrefix(s, KeyHashPrefix)
	if !ok {
		return h, errors.New(`must start with "sha256:" (use: tenancyctl policy hash-key)`)
	}
	if len(hexPart) != 2*sha256.Size {
		return h, fmt.Errorf("must hold %d hex digits after \"sha256:\", found %d", 2*sha256.Size, len(hexPart))
	}
	if strings.ToLower(hexPart) != hexPart {
		return h, errors.New("hex digits must be lower case")
	}
	if _, err := hex.Decode(h[:], []byte(hexPart)); err != nil {
		return h, fmt.Errorf("not hex: %w", err)
	}
	return h, nil
}

// TenantForKey returns the tenant that owns key. The presented key is hashed
// first, so the map lookup only ever sees a digest the caller cannot steer,
// and the final comparison is constant time.
func (p *Policy) TenantForKey(key string) (*Tenant, bool) {
	if key == "" {
		return nil, false
	}
	sum := KeyHash(sha256.Sum256([]byte(key)))
	entry, ok := p.keys[sum]
	if !ok {
		return nil, false
	}
	if subtle.ConstantTimeCompare(entry.hash[:], sum[:]) != 1 {
		return nil, false
	}
	return entry.tenant, true
}

type keyEntry struct {
	hash   KeyHash
	tenant *Tenant
}
