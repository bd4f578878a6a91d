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
	return errors.Join(errs...)
}
