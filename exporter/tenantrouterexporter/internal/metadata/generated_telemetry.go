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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/exporter/tenantrouterexporter")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/exporter/tenantrouterexporter")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                           metric.Meter
	mu                              sync.Mutex
	registrations                   []metric.Registration
	TenantrouterMetricsUntranslated metric.Int64ObservableCounter
	TenantrouterQueueBytes          metric.Int64ObservableGauge
	TenantrouterQueueSize           metric.Int64ObservableGauge
	TenantrouterRecordsFailed       metric.Int64ObservableCounter
	TenantrouterRecordsSent         metric.Int64ObservableCounter
	TenantrouterRetries             metric.Int64ObservableCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantrouterMetricsUntranslatedCallback sets callback for observable TenantrouterMetricsUntranslated metric.
func (builder *TelemetryBuilder) RegisterTenantrouterMetricsUntranslatedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterMetricsUntranslated, obs: o})
		return nil
	}, builder.TenantrouterMetricsUntranslated)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantrouterQueueBytesCallback sets callback for observable TenantrouterQueueBytes metric.
func (builder *TelemetryBuilder) RegisterTenantrouterQueueBytesCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterQueueBytes, obs: o})
		return nil
	}, builder.TenantrouterQueueBytes)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantrouterQueueSizeCallback sets callback for observable TenantrouterQueueSize metric.
func (builder *TelemetryBuilder) RegisterTenantrouterQueueSizeCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterQueueSize, obs: o})
		return nil
	}, builder.TenantrouterQueueSize)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantrouterRecordsFailedCallback sets callback for observable TenantrouterRecordsFailed metric.
func (builder *TelemetryBuilder) RegisterTenantrouterRecordsFailedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterRecordsFailed, obs: o})
		return nil
	}, builder.TenantrouterRecordsFailed)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantrouterRecordsSentCallback sets callback for observable TenantrouterRecordsSent metric.
func (builder *TelemetryBuilder) RegisterTenantrouterRecordsSentCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterRecordsSent, obs: o})
		return nil
	}, builder.TenantrouterRecordsSent)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantrouterRetriesCallback sets callback for observable TenantrouterRetries metric.
func (builder *TelemetryBuilder) RegisterTenantrouterRetriesCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantrouterRetries, obs: o})
		return nil
	}, builder.TenantrouterRetries)
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
	builder.TenantrouterMetricsUntranslated, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantrouter_metrics_untranslated",
		metric.WithDescription("Metrics a remotewrite backend could not translate and did not send while the rest of their batch was sent, by tenant, backend and reason (invalid_temporality, empty_data_points, untranslatable)."),
		metric.WithUnit("{metric}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantrouterQueueBytes, err = builder.meter.Int64ObservableGauge(
		"otelcol_tenantrouter_queue_bytes",
		metric.WithDescription("Bytes (OTLP protobuf size) of the batches each (tenant, backend) queue holds, the one in flight included."),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	builder.TenantrouterQueueSize, err = builder.meter.Int64ObservableGauge(
		"otelcol_tenantrouter_queue_size",
		metric.WithDescription("Batches waiting in each (tenant, backend) queue."),
		metric.WithUnit("{batch}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantrouterRecordsFailed, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantrouter_records_failed",
		metric.WithDescription("Records not delivered, by tenant, backend, signal and reason (permanent, retries_exhausted, queue_full, shutdown, unknown_backend, unsupported_signal, no_backend_tenant_id, residency, memory_limit, too_large, no_credential, storage, shredded)."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantrouterRecordsSent, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantrouter_records_sent",
		metric.WithDescription("Records (log records, data points, spans) a backend accepted, by tenant, backend and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantrouterRetries, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantrouter_retries",
		metric.WithDescription("Send attempts retried after a retryable failure, by tenant and backend."),
		metric.WithUnit("{retry}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
