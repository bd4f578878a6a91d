// Package policy holds the tenant policy model: the parsed and validated
// tenants.yaml, the tenant id rules and the lookups every Tenancy component
// asks (tenant by id, tenant by API key). A *Policy is immutable once built,
// so readers share it without locks and a reload swaps the pointer.
package policy

import (
	"errors"
	"fmt"
	"strings"
)

// Reserved tenants: the pipeline's own partitions. No policy may declare them.
const (
	// Quarantine holds records that failed identification.
	Quarantine = "_quarantine"
	// Governance holds the pipeline's own events (anomalies, audit).
	Governance = "_governance"
)

// MaxTenantIDLength is dskit's limit, so an id can be sent as X-Scope-OrgID
// to Loki, Mimir, Cortex and Tempo unchanged.
const MaxTenantIDLength = 150

// Errors returned by ValidateTenantID; callers use them as quarantine reasons.
var (
	ErrTenantIDEmpty    = errors.New("tenant id is empty")
	ErrTenantIDTooLong  = fmt.Errorf("tenant id is longer than %d characters", MaxTenantIDLength)
	ErrTenantIDDots     = errors.New(`tenant id must not be "." or ".."`)
	ErrTenantIDBadChars = errors.New(`tenant id may only hold a-z A-Z 0-9 and ! - _ . * ' ( )`)
)

// ValidateTenantID applies the dskit tenant id rules (Loki, Mimir, Cortex):
// at most 150 characters from [a-zA-Z0-9!-_.*'()], and not "." or "..".
// The same id is then safe as an HTTP header value and as a directory name.
func ValidateTenantID(id string) error {
	switch {
	case id == "":
		return ErrTenantIDEmpty
	case len(id) > MaxTenantIDLength:
		return ErrTenantIDTooLong
	case id == "." || id == "..":
		return ErrTenantIDDots
	}
	for i := 0; i < len(id); i++ {
		if !isTenantIDByte(id[i]) {
			return fmt.Errorf("%w: found %q at byte %d", ErrTenantIDBadChars, printableByte(id, i), i)
		}
	}
	return nil
}

// IsReserved reports whether id is in the namespace kept for the pipeline's
// own tenants. The whole "_" prefix is kept, not only today's two names, so a
// future reserved tenant can never collide with a customer's.
func IsReserved(id string) bool {
	return strings.HasPrefix(id, "_")
}

func isTenantIDByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '-', '_', '.', '*', '\'', '(', ')':
		return true
	}
	return false
}

// printableByte returns the rune starting at byte i when it is valid UTF-8,
// else the single byte, so errors show what the client sent.
func printableByte(s string, i int) string {
	for j, r := range s[i:] {
		if j == 0 {
			return string(r)
		}
	}
	return s[i : i+1]
}
