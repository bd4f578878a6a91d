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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                 metric.Meter
	mu                    sync.Mutex
	registrations         []metric.Registration
	TenantgatewayBytes    metric.Int64ObservableCounter
	TenantgatewayRecords  metric.Int64ObservableCounter
	TenantgatewayRefused  metric.Int64ObservableCounter
	TenantgatewayRequests metric.Int64ObservableCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantgatewayBytesCallback sets callback for observable TenantgatewayBytes metric.
func (builder *TelemetryBuilder) RegisterTenantgatewayBytesCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantgatewayBytes, obs: o})
		return nil
	}, builder.TenantgatewayBytes)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantgatewayRecordsCallback sets callback for observable TenantgatewayRecords metric.
func (builder *TelemetryBuilder) RegisterTenantgatewayRecordsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantgatewayRecords, obs: o})
		return nil
	}, builder.TenantgatewayRecords)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantgatewayRefusedCallback sets callback for observable TenantgatewayRefused metric.
func (builder *TelemetryBuilder) RegisterTenantgatewayRefusedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantgatewayRefused, obs: o})
		return nil
	}, builder.TenantgatewayRefused)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantgatewayRequestsCallback sets callback for observable TenantgatewayRequests metric.
func (builder *TelemetryBuilder) RegisterTenantgatewayRequestsCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantgatewayRequests, obs: o})
		return nil
	}, builder.TenantgatewayRequests)
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
	builder.TenantgatewayBytes, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantgateway_bytes",
		metric.WithDescription("Decompressed request bytes accepted, by tenant, protocol and signal."),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	builder.TenantgatewayRecords, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantgateway_records",
		metric.WithDescription("Records (log records, data points, spans) passed to the pipeline, by tenant, protocol and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantgatewayRefused, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantgateway_refused",
		metric.WithDescription("Requests refused, by tenant, protocol, signal and reason."),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantgatewayRequests, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantgateway_requests",
		metric.WithDescription("Requests answered, by tenant, protocol and signal."),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
