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

// The self-metrics of metadata.yaml. They are observable counters: the hot
// path adds to atomics, and the SDK reads them at collection time, so the
// cost per record does not depend on how many tenants a batch holds.
const (
	RecordsAcceptedName        = "otelcol_tenant_records_accepted"
	RecordsAcceptedDescription = "Records stamped with a policy tenant, by tenant and signal."
	RecordsQuarantinedName     = "otelcol_tenant_records_quarantined"
	RecordsQuarantinedDesc     = "Records sent to the _quarantine tenant, by reason and signal."
	RecordUnit                 = "{record}"
)

// Meter returns the meter of the processor's self-metrics.
func Meter(set component.TelemetrySettings) metric.Meter {
	return set.MeterProvider.Meter(ScopeName)
}
