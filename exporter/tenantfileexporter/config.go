package tenantfileexporter

import "errors"

// Config of the tenantfile exporter.
type Config struct {
	// Directory under which each tenant gets its own folder of files.
	Directory string `mapstructure:"directory"`
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Directory == "" {
		return errors.New("directory: must name the folder that holds one folder per tenant")
	}
	return nil
}
