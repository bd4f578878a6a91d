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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/processor/tenantredactprocessor")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/processor/tenantredactprocessor")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                  metric.Meter
	mu                     sync.Mutex
	registrations          []metric.Registration
	TenantredactRecords    metric.Int64Counter
	TenantredactRedactions metric.Int64Counter
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
	builder.TenantredactRecords, err = builder.meter.Int64Counter(
		"otelcol_tenantredact_records",
		metric.WithDescription("Records (log records, data points, spans, resources) changed by redaction, by tenant and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantredactRedactions, err = builder.meter.Int64Counter(
		"otelcol_tenantredact_redactions",
		metric.WithDescription("Values redacted, by tenant and class (class names only, never values)."),
		metric.WithUnit("{redaction}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
