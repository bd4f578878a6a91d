// Package metadata holds what metadata.yaml declares for the
// tenantretention processor, written by hand in the shape mdatagen
// generates (mdatagen v0.165.0 is not served by the module proxy this
// project builds from).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenantretention")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/processor/tenantretentionprocessor"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// Telemetry holds the self-metrics declared in metadata.yaml.
type Telemetry struct {
	RecordsDropped metric.Int64Counter
	RecordsFlagged metric.Int64Counter
}

// NewTelemetry builds the self-metrics from the component's settings.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err error
	if t.RecordsDropped, err = m.Int64Counter("otelcol_tenantretention_records_dropped",
		metric.WithDescription("Records (log records, data points, spans) dropped because they are older than their tenant's retention (reason expired) or belong to a tenant whose residency is another region (reason residency), by tenant, signal and reason."),
		metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	if t.RecordsFlagged, err = m.Int64Counter("otelcol_tenantretention_records_flagged",
		metric.WithDescription("Records (log records, data points, spans) flagged instead of dropped (reasons expired, residency), or kept and aged from their ingestion because their timestamp lay further in the future than their tenant's max_future_skew (reason future_skew), by tenant, signal and reason."),
		metric.WithUnit("{record}")); err != nil {
		return nil, err
	}
	return &t, nil
}
