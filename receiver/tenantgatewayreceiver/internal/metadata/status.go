// Package metadata holds what metadata.yaml declares for the tenantgateway
// receiver, written by hand in the shape mdatagen generates (mdatagen
// v0.165.0 is not served by the module proxy this project builds from).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenantgateway")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// The self-metrics of metadata.yaml, by tenant, protocol and signal (and
// reason for refusals). Observable counters: the hot path adds to atomics
// and the SDK reads them at collection time.
const (
	RequestsName        = "otelcol_tenantgateway_requests"
	RequestsDescription = "Requests answered, by tenant, protocol and signal."
	RecordsName         = "otelcol_tenantgateway_records"
	RecordsDescription  = "Records (log records, data points, spans) passed to the pipeline, by tenant, protocol and signal."
	BytesName           = "otelcol_tenantgateway_bytes"
	BytesDescription    = "Decompressed request bytes accepted, by tenant, protocol and signal."
	RefusedName         = "otelcol_tenantgateway_refused"
	RefusedDescription  = "Requests refused, by tenant, protocol, signal and reason."
)

// Meter returns the meter of the receiver's self-metrics.
func Meter(set component.TelemetrySettings) metric.Meter {
	return set.MeterProvider.Meter(ScopeName)
}
