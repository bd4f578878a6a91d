// Package metadata holds what metadata.yaml declares for the tenantfile
// exporter, written by hand in the shape mdatagen generates (mdatagen
// v0.165.0 is not served by the module proxy this project builds from).
package metadata

import "go.opentelemetry.io/collector/component"

// Type is the component type users write in their config.
var Type = component.MustNewType("tenantfile")

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)
