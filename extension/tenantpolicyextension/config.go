package tenantpolicyextension

import (
	"errors"
	"fmt"
	"time"
)

// Config of the tenantpolicy extension.
type Config struct {
	// Path of the policy file (tenants.yaml).
	Path string `mapstructure:"path"`
	// ReloadInterval is how often the file is read for changes; a changed,
	// valid file is in force within one interval.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// TrustedHeader accepts a tenant header as the caller's identity when no
	// API key is presented. Enable it only behind a proxy that authenticates
	// callers and overwrites the header.
	TrustedHeader TrustedHeaderConfig `mapstructure:"trusted_header"`
	// Access configures the per-tenant access counts (internal/access) that
	// the tenantanomaly connector reads.
	Access AccessConfig `mapstructure:"access"`
}

// AccessConfig bounds and tunes the access counts.
type AccessConfig struct {
	// LearningPeriod is how long after a tenant's first request with a
	// client address its new addresses are learnt silently; after it, an
	// address not in the tenant's set counts as new.
	LearningPeriod time.Duration `mapstructure:"learning_period"`
	// AddressesPerTenant is the size of each tenant's set of known client
	// addresses; when full, the oldest is forgotten.
	AddressesPerTenant int `mapstructure:"addresses_per_tenant"`
}

// TrustedHeaderConfig configures trusted header mode.
type TrustedHeaderConfig struct {
	// Enabled turns trusted header mode on. Off by default.
	Enabled bool `mapstructure:"enabled"`
	// Name of the header that carries the tenant id.
	Name string `mapstructure:"name"`
}

// minReloadInterval keeps a typo from turning the reload loop into a busy loop.
const minReloadInterval = 100 * time.Millisecond

// maxAddressesPerTenant keeps the address set small: it is 8 bytes an
// address per tenant, scanned on every request.
const maxAddressesPerTenant = 256

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: must name the policy file (tenants.yaml)"))
	}
	if c.ReloadInterval < minReloadInterval {
		errs = append(errs, fmt.Errorf("reload_interval: must be at least %s, got %s", minReloadInterval, c.ReloadInterval))
	}
	if c.TrustedHeader.Enabled && c.TrustedHeader.Name == "" {
		errs = append(errs, errors.New("trusted_header.name: must name the header when trusted_header is enabled"))
	}
	if c.Access.LearningPeriod < 0 {
		errs = append(errs, fmt.Errorf("access.learning_period: %s is negative", c.Access.LearningPeriod))
	}
	if c.Access.AddressesPerTenant < 1 || c.Access.AddressesPerTenant > maxAddressesPerTenant {
		errs = append(errs, fmt.Errorf("access.addresses_per_tenant: %d is outside [1, %d]", c.Access.AddressesPerTenant, maxAddressesPerTenant))
	}
	return errors.Join(errs...)
}
