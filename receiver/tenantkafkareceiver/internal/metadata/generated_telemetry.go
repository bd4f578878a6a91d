// Written by hand in the shape mdatagen v0.165.0 generates from
// metadata.yaml, because mdatagen is not served by the module proxy this
// project builds from. The component's metadata_test.go fails when this file
// and metadata.yaml disagree; regenerate with mdatagen once it can be
// installed.

package metadata

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.opentelemetry.io/otel/trace"

	"go.opentelemetry.io/collector/component"
)

func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter              metric.Meter
	mu                 sync.Mutex
	registrations      []metric.Registration
	TenantkafkaDropped metric.Int64ObservableCounter
	TenantkafkaRecords metric.Int64ObservableCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantkafkaDroppedCallback sets callback for observable TenantkafkaDropped metric.
func (builder *TelemetryBuilder) RegisterTenantkafkaDroppedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantkafkaDropped, obs: o})
		return nil
	}, builder.TenantkafkaDropped)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantkafkaRecordsCallback sets callback for observable TenantkafkaRecords metric.
func (builder *TelemetryBuilder) RegisterTenantkafkaRecordsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantkafkaRecords, obs: o})
		return nil
	}, builder.TenantkafkaRecords)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

type observerInt64 struct {
	embedded.Int64Observer
	inst metric.Int64Observable
	obs  metric.Observer
}

func (oi *observerInt64) Observe(value int64, opts ...metric.ObserveOption) {
	oi.obs.ObserveInt64(oi.inst, value, opts...)
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
	builder.TenantkafkaDropped, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantkafka_dropped",
		metric.WithDescription("Kafka messages committed without reaching the pipeline, by reason (undecodable, no_tenant, invalid_tenant, permanent; too_large counts a whole record batch that decompresses past 64 MiB)."),
		metric.WithUnit("{message}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantkafkaRecords, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantkafka_records",
		metric.WithDescription("Records (log records, data points, spans) the pipeline accepted, by the topic's tenant and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
