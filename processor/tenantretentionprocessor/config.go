package tenantretentionprocessor

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Action is what happens to a record outside its tenant's retention or
// residency.
type Action string

const (
	// ActionDrop removes the record (counted in the self-metrics).
	ActionDrop Action = "drop"
	// ActionFlag keeps the record and marks it (tenant.retention.expired on
	// the record, tenant.residency.violation on the resource).
	ActionFlag Action = "flag"
)

// Config of the tenantretention processor. Retention and residency come
// from the policy; the config says where this collector runs and what to
// do with records outside them.
type Config struct {
	// Policy is the id of the tenantpolicy extension to ask.
	Policy component.ID `mapstructure:"policy"`
	// Region is the region this collector runs in, in the policy's
	// residency syntax ("eu", "us-east"). When set, the data of a tenant
	// whose residency names another region does not pass. Empty: residency
	// is stamped but not enforced here.
	Region string `mapstructure:"region"`
	// Expired is the action for a record whose timestamp is older than its
	// tenant's retention for the signal: drop (default) or flag.
	Expired Action `mapstructure:"expired"`
	// OutOfRegion is the action for a tenant's data when its residency is
	// not Region: drop (default) or flag.
	OutOfRegion Action `mapstructure:"out_of_region"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	if c.Region != "" && !policy.ValidRegion(c.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not a residency name (lower-case letters, digits and '-', at most 63)", c.Region))
	}
	for _, a := range []struct {
		key string
		v   Action
	}{{"expired", c.Expired}, {"out_of_region", c.OutOfRegion}} {
		if a.v != ActionDrop && a.v != ActionFlag {
			errs = append(errs, fmt.Errorf("%s: must be %q or %q, found %q", a.key, ActionDrop, ActionFlag, a.v))
		}
	}
	return errors.Join(errs...)
}
