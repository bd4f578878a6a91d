// Package metadata holds what metadata.yaml declares for the tenantredact
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
	Type = component.MustNewType("tenantredact")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/processor/tenantredactprocessor"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// Telemetry holds the self-metrics declared in metadata.yaml.
type Telemetry struct {
	Redactions metric.Int64Counter
	Records    metric.Int64Counter
}

// NewTelemetry builds the self-metrics from the component's settings.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err error
	if t.Redactions, err = m.Int64Counter("otelcol_tenantredact_redactions",
		metric.WithDescription("Values redacted, by tenant and class (class names only, never values)."), metric.WithUnit("{redaction}")); err != nil {
		return nil, err
	}
	if t.Records, err = m.Int64Counter("otelcol_tenantredact_records",
		metric.WithDescription("Records (log records, data points, spans, resources) changed by redaction, by tenant and signal."), metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	return &t, nil
}
