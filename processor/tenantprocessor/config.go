package tenantprocessor

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// Config of the tenant processor.
type Config struct {
	// Policy is the id of the tenantpolicy extension to ask.
	Policy component.ID `mapstructure:"policy"`
	// FingerprintSecret keys the HMAC of tenant.fingerprint. Instances that
	// share it produce the same fingerprints; keep it out of the config
	// file (use ${env:...}).
	FingerprintSecret configopaque.String `mapstructure:"fingerprint_secret"`
	// AllowUnverifiedClaims accepts a resource's own tenant.id when the
	// request carries no verified identity. Off by default: a claim alone is
	// quarantined with reason "unverified".
	AllowUnverifiedClaims bool `mapstructure:"allow_unverified_claims"`
	// TrustedHeader names a request header (from the receiver's
	// include_metadata) that a trusted proxy sets to the tenant id. Empty
	// (the default) ignores headers. The tenantpolicy extension's own
	// trusted_header mode is the other way to trust a proxy.
	TrustedHeader string `mapstructure:"trusted_header"`
	// TrustedReceivers are receivers whose word for the tenant counts as
	// verified though they checked no key: the tenantkafka receiver says
	// whose topic a message was read from, which only the edge (the one
	// Kafka principal allowed to write tenant topics) decides. From any
	// other receiver that identity counts for nothing.
	TrustedReceivers []component.ID `mapstructure:"trusted_receivers"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.FingerprintSecret) < identity.MinSecretLength {
		errs = append(errs, fmt.Errorf("fingerprint_secret: must be at least %d bytes (set it from the environment, e.g. ${env:TENANCY_FINGERPRINT_SECRET})", identity.MinSecretLength))
	}
	for _, r := range c.TrustedHeader {
		if r <= ' ' || r >= 0x7f || r == ':' {
			errs = append(errs, fmt.Errorf("trusted_header: %q is not a valid header name", c.TrustedHeader))
			break
		}
	}
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	return errors.Join(errs...)
}
