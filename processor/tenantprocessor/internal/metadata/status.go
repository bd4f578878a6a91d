// Package metadata holds what metadata.yaml declares for the tenant
// processor, written by hand in the shape mdatagen generates (mdatagen
// v0.165.0 is not served by the module proxy this project builds from).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenant")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/processor/tenantprocessor"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// Telemetry holds the self-metrics declared in metadata.yaml.
type Telemetry struct {
	RecordsAccepted    metric.Int64Counter
	RecordsQuarantined metric.Int64Counter
}

// NewTelemetry builds the self-metrics from the component's settings.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err error
	if t.RecordsAccepted, err = m.Int64Counter("otelcol_tenant_records_accepted",
		metric.WithDescription("Records stamped with a policy tenant, by tenant and signal."), metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	if t.RecordsQuarantined, err = m.Int64Counter("otelcol_tenant_records_quarantined",
		metric.WithDescription("Records sent to the _quarantine tenant, by reason and signal."), metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	return &t, nil
}
