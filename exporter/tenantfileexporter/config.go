package tenantfileexporter

import (
	"errors"

	"go.opentelemetry.io/collector/component"
)

// Config of the tenantfile exporter.
type Config struct {
	// Directory under which each tenant gets its own folder of files.
	Directory string `mapstructure:"directory"`
	// Policy is the id of the tenantpolicy extension to ask which tenants
	// are declared and active: only they (and the pipeline's _quarantine
	// and _governance) get a folder.
	Policy component.ID `mapstructure:"policy"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Directory == "" {
		errs = append(errs, errors.New("directory: must name the folder that holds one folder per tenant"))
	}
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	return errors.Join(errs...)
}
