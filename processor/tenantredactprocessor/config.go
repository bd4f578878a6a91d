package tenantredactprocessor

import (
	"errors"
	"fmt"
	"sort"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
)

// MinHashKeyLength keeps hash keys from being guessed, which would let
// anyone re-identify hashed values by hashing candidates.
const MinHashKeyLength = 16

// Config of the tenantredact processor. What to redact comes from the
// policy (each tenant's identifiers and redaction classes); the config only
// says where the policy is and which keys hash.
type Config struct {
	// Policy is the id of the tenantpolicy extension to ask.
	Policy component.ID `mapstructure:"policy"`
	// HashKeys maps a key id to a secret for the hash action. The id is
	// written into every hash (<hash:ID:...>) so keys can rotate: add a key
	// and make it active. Only the active key hashes; an inactive one is
	// kept so the secret an old pseudonym names stays at hand for
	// tenancyctl redact pseudonym to re-derive or verify it. Keep the
	// secrets out of the config file (use ${env:...}).
	HashKeys map[string]configopaque.String `mapstructure:"hash_keys"`
	// ActiveHashKey is the id in hash_keys that new hashes use. Required
	// when any tenant's policy hashes a class; the processor refuses data
	// it cannot redact as the policy says.
	ActiveHashKey string `mapstructure:"active_hash_key"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	ids := make([]string, 0, len(c.HashKeys))
	for id := range c.HashKeys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if len(c.HashKeys[id]) < MinHashKeyLength {
			errs = append(errs, fmt.Errorf("hash_keys.%s: must be at least %d bytes (set it from the environment, e.g. ${env:TENANCY_HASH_KEY_%s})", id, MinHashKeyLength, id))
		}
	}
	if c.ActiveHashKey != "" {
		if _, ok := c.HashKeys[c.ActiveHashKey]; !ok {
			errs = append(errs, fmt.Errorf("active_hash_key: %q is not a key of hash_keys", c.ActiveHashKey))
		}
	}
	return errors.Join(errs...)
}
