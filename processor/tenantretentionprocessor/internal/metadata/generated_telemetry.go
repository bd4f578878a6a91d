// Written by hand in the shape mdatagen v0.165.0 generates from
// metadata.yaml, because mdatagen is not served by the module proxy this
// project builds from. The component's metadata_test.go fails when this file
// and metadata.yaml disagree; regenerate with mdatagen once it can be
// installed.

package metadata

import (
	"errors"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"go.opentelemetry.io/collector/component"
)

func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/processor/tenantretentionprocessor")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/processor/tenantretentionprocessor")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                         metric.Meter
	mu                            sync.Mutex
	registrations                 []metric.Registration
	TenantretentionRecordsDropped metric.Int64Counter
	TenantretentionRecordsFlagged metric.Int64Counter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// Shutdown unregister all registered callbacks for async instruments.
func (builder *TelemetryBuilder) Shutdown() {
	builder.mu.Lock()
	defer builder.mu.Unlock()
	for _, reg := range builder.registrations {
		reg.Unregister()
	}
}

// NewTelemetryBuilder provides a struct with methods to update all internal telemetry
// for a component
func NewTelemetryBuilder(settings component.TelemetrySettings, options ...TelemetryBuilderOption) (*TelemetryBuilder, error) {
	builder := TelemetryBuilder{}
	for _, op := range options {
		op.apply(&builder)
	}
	builder.meter = Meter(settings)
	var err, errs error
	builder.TenantretentionRecordsDropped, err = builder.meter.Int64Counter(
		"otelcol_tenantretention_records_dropped",
		metric.WithDescription("Records (log records, data points, spans) dropped because they are older than their tenant's retention (reason expired) or belong to a tenant whose residency is another region (reason residency), by tenant, signal and reason."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantretentionRecordsFlagged, err = builder.meter.Int64Counter(
		"otelcol_tenantretention_records_flagged",
		metric.WithDescription("Records (log records, data points, spans) flagged instead of dropped (reasons expired, residency), or kept and aged from their ingestion because their timestamp lay further in the future than their tenant's max_future_skew (reason future_skew), by tenant, signal and reason."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
