// Package metadata holds what metadata.yaml declares for the tenantrouter
// exporter, written by hand in the shape mdatagen generates (mdatagen
// v0.165.0 is not served by the module proxy this project builds from).
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenantrouter")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/exporter/tenantrouterexporter"
)

// Stability of each signal.
const (
	LogsStability    = component.StabilityLevelAlpha
	MetricsStability = component.StabilityLevelAlpha
	TracesStability  = component.StabilityLevelAlpha
)

// The self-metrics of metadata.yaml, read from atomics at collection time.
const (
	RecordsSentName         = "otelcol_tenantrouter_records_sent"
	RecordsSentDesc         = "Records (log records, data points, spans) a backend accepted, by tenant, backend and signal."
	RecordsFailedName       = "otelcol_tenantrouter_records_failed"
	RecordsFailedDesc       = "Records not delivered, by tenant, backend, signal and reason (permanent, retries_exhausted, queue_full, shutdown, unknown_backend, unsupported_signal, no_backend_tenant_id, residency, memory_limit, too_large, no_credential, storage)."
	QueueSizeName           = "otelcol_tenantrouter_queue_size"
	QueueSizeDesc           = "Batches waiting in each (tenant, backend) queue."
	QueueBytesName          = "otelcol_tenantrouter_queue_bytes"
	QueueBytesDesc          = "Bytes (OTLP protobuf size) of the batches each (tenant, backend) queue holds, the one in flight included."
	MetricsUntranslatedName = "otelcol_tenantrouter_metrics_untranslated"
	MetricsUntranslatedDesc = "Metrics a remotewrite backend could not translate and did not send while the rest of their batch was sent, by tenant, backend and reason (invalid_temporality, empty_data_points, untranslatable)."
	RetriesName             = "otelcol_tenantrouter_retries"
	RetriesDesc             = "Send attempts retried after a retryable failure, by tenant and backend."
	RecordUnit              = "{record}"
	BatchUnit               = "{batch}"
	RetryUnit               = "{retry}"
	ByteUnit                = "By"
	MetricUnit              = "{metric}"
)

// Meter returns the meter of the exporter's self-metrics.
func Meter(set component.TelemetrySettings) metric.Meter {
	return set.MeterProvider.Meter(ScopeName)
}
