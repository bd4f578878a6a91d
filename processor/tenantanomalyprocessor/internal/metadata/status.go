// Package metadata holds what metadata.yaml declares for the tenantanomaly
// processor, written by hand in the shape mdatagen generates (as the tenant
// processor does: mdatagen v0.165.0 is not served by the module proxy this
// project builds from).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenantanomaly")
	// ScopeName is the instrumentation scope of the self-metrics and of the
	// anomaly log records.
	ScopeName = "github.com/tenancyhq/tenancy/processor/tenantanomalyprocessor"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// The self-metric of metadata.yaml: an observable gauge, read from the
// detectors' last scores at collection time.
const (
	ScoreName        = "otelcol_tenantanomaly_score"
	ScoreDescription = "Anomaly score in [0,1] of the last closed interval, by tenant and feature (signal.feature, e.g. logs.records)."
	ScoreUnit        = "1"
)

// Meter returns the meter of the processor's self-metrics.
func Meter(set component.TelemetrySettings) metric.Meter {
	return set.MeterProvider.Meter(ScopeName)
}
