package tenantanomalyconnector

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// minInterval keeps the ticker from turning into a busy loop; a real
// deployment uses minutes.
const minInterval = time.Second

// Config of the tenantanomaly connector.
type Config struct {
	// Policy is the id of the tenantpolicy extension to ask.
	Policy component.ID `mapstructure:"policy"`
	// FingerprintSecret keys tenant.fingerprint and anomaly.tenant.fingerprint
	// on the anomaly records; it must be the tenant processor's secret so the
	// fingerprints match.
	FingerprintSecret configopaque.String `mapstructure:"fingerprint_secret"`
	// Interval is the length of one point of every series. Intervals are
	// aligned to the wall clock (multiples of Interval since the Unix epoch).
	Interval time.Duration `mapstructure:"interval"`
	// Threshold is the score at and above which an interval is an anomaly.
	Threshold float64 `mapstructure:"threshold"`
	// Probation is how many intervals a new series learns before it may
	// score above 0.
	Probation int `mapstructure:"probation"`
	// Suppress is how many intervals after an alarm a value beyond the
	// series' range may not alarm again (one event, one alarm), unless it
	// lies beyond every value seen by as much again as they span.
	Suppress int `mapstructure:"suppress"`
	// Storage names a storage extension (e.g. file_storage) that keeps the
	// baselines across restarts. Unset: baselines live in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// Baselines keeps the baselines on a compacted Kafka topic, keyed by
	// tenant and signal, instead of Storage: in a processing tier behind
	// the tenantkafka receiver each stream's baseline follows its
	// partition to the member that takes it over (baselines.go).
	Baselines *tenantkafka.BaselinesConfig `mapstructure:"baselines"`
	// CheckpointInterval is how often the baselines are written to Storage
	// besides at shutdown; 0 writes them after every interval.
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
	// Access tunes the access-pattern rules on the policy extension's
	// access counts.
	Access AccessConfig `mapstructure:"access"`
	// Metrics names metrics (e.g. http.server.request.duration) whose data
	// points and values are watched per tenant besides the volumes: three
	// series each for every tenant that sends it (values.go).
	Metrics []string `mapstructure:"metrics"`
	// MaxServices, when above 0, gives each of a tenant's first
	// MaxServices services (service.name) its own span error ratio and
	// latency series (services.go); 0 keeps them per tenant only.
	MaxServices int `mapstructure:"max_services"`
}

// AccessConfig tunes the access-pattern rules.
type AccessConfig struct {
	// AuthFailureBurst is the fewest authentication failures claiming a
	// tenant in one interval that can be a burst.
	AuthFailureBurst int `mapstructure:"auth_failure_burst"`
	// AuthFailureFactor is how many times its learnt rate an interval's
	// failures must reach to be a burst.
	AuthFailureFactor float64 `mapstructure:"auth_failure_factor"`
	// StoreReadBurst and StoreReadFactor are the same for the reads of a
	// tenant's store (tenancyctl query, lineage, export, backup) that the
	// router's local store found in its audit log.
	StoreReadBurst  int     `mapstructure:"store_read_burst"`
	StoreReadFactor float64 `mapstructure:"store_read_factor"`
	// CredentialRequestBurst and CredentialRequestFactor are the same for
	// the requests one of a tenant's credentials made, once its rate has
	// learnt for probation intervals.
	CredentialRequestBurst  int     `mapstructure:"credential_request_burst"`
	CredentialRequestFactor float64 `mapstructure:"credential_request_factor"`
}

// validate checks each rule's floor and factor.
func (c AccessConfig) validate() []error {
	var errs []error
	for _, r := range []struct {
		name   string
		floor  int
		factor float64
	}{
		{"auth_failure", c.AuthFailureBurst, c.AuthFailureFactor},
		{"store_read", c.StoreReadBurst, c.StoreReadFactor},
		{"credential_request", c.CredentialRequestBurst, c.CredentialRequestFactor},
	} {
		if r.floor < 1 {
			errs = append(errs, fmt.Errorf("access.%s_burst: %d is below 1", r.name, r.floor))
		}
		if !(r.factor >= 1) || math.IsInf(r.factor, 0) {
			errs = append(errs, fmt.Errorf("access.%s_factor: %v is below 1", r.name, r.factor))
		}
	}
	return errs
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Policy.Type().String() == "" {
		errs = append(errs, errors.New("policy: must name the tenantpolicy extension"))
	}
	if len(c.FingerprintSecret) < identity.MinSecretLength {
		errs = append(errs, fmt.Errorf("fingerprint_secret: must be at least %d bytes (use the tenant processor's, e.g. ${env:TENANCY_FINGERPRINT_SECRET})", identity.MinSecretLength))
	}
	if c.Interval < minInterval {
		errs = append(errs, fmt.Errorf("interval: %s is shorter than %s", c.Interval, minInterval))
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) || math.IsNaN(c.Threshold) {
		errs = append(errs, fmt.Errorf("threshold: %v is outside (0,1]", c.Threshold))
	}
	if c.Probation < 0 {
		errs = append(errs, fmt.Errorf("probation: %d is negative", c.Probation))
	}
	if c.Suppress < 0 {
		errs = append(errs, fmt.Errorf("suppress: %d is negative", c.Suppress))
	}
	if c.Baselines != nil {
		if err := c.Baselines.Check(); err != nil {
			errs = append(errs, fmt.Errorf("baselines: %w", err))
		}
		if c.Storage != nil {
			errs = append(errs, errors.New("baselines: set baselines or storage, not both: the topic is where a member's baselines survive its restart too"))
		}
	}
	if c.CheckpointInterval < 0 {
		errs = append(errs, fmt.Errorf("checkpoint_interval: %s is negative", c.CheckpointInterval))
	}
	errs = append(errs, c.Access.validate()...)
	errs = append(errs, c.validateMetrics()...)
	if c.MaxServices < 0 || c.MaxServices > maxServicesLimit {
		errs = append(errs, fmt.Errorf("max_services: %d is outside [0,%d]", c.MaxServices, maxServicesLimit))
	}
	return errors.Join(errs...)
}

// validateMetrics checks the metrics list: a bounded number of distinct,
// non-empty names of bounded length.
func (c *Config) validateMetrics() []error {
	var errs []error
	if len(c.Metrics) > maxValueMetrics {
		errs = append(errs, fmt.Errorf("metrics: %d names, at most %d (each costs every tenant that sends it three detectors)", len(c.Metrics), maxValueMetrics))
	}
	for i, n := range c.Metrics {
		switch {
		case n == "":
			errs = append(errs, fmt.Errorf("metrics[%d]: empty name", i))
		case len(n) > maxValueNameLength:
			errs = append(errs, fmt.Errorf("metrics[%d]: name longer than %d bytes", i, maxValueNameLength))
		case slices.Contains(c.Metrics[:i], n):
			errs = append(errs, fmt.Errorf("metrics[%d]: %q is listed twice", i, n))
		}
	}
	return errs
}

// detectorConfig is the detector setting of a tenant with the given
// sensitivity (from its policy).
func (c *Config) detectorConfig(sensitivity float64) anomaly.Config {
	d := anomaly.DefaultConfig()
	d.Sensitivity, d.Probation, d.Suppress = sensitivity, c.Probation, c.Suppress
	return d
}
