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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/processor/tenantprocessor")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/processor/tenantprocessor")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                                metric.Meter
	mu                                   sync.Mutex
	registrations                        []metric.Registration
	TenantRecordsAccepted                metric.Int64ObservableCounter
	TenantRecordsQuarantined             metric.Int64ObservableCounter
	TenantRecordsQuarantinedByCredential metric.Int64ObservableCounter
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantRecordsAcceptedCallback sets callback for observable TenantRecordsAccepted metric.
func (builder *TelemetryBuilder) RegisterTenantRecordsAcceptedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantRecordsAccepted, obs: o})
		return nil
	}, builder.TenantRecordsAccepted)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantRecordsQuarantinedCallback sets callback for observable TenantRecordsQuarantined metric.
func (builder *TelemetryBuilder) RegisterTenantRecordsQuarantinedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantRecordsQuarantined, obs: o})
		return nil
	}, builder.TenantRecordsQuarantined)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantRecordsQuarantinedByCredentialCallback sets callback for observable TenantRecordsQuarantinedByCredential metric.
func (builder *TelemetryBuilder) RegisterTenantRecordsQuarantinedByCredentialCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantRecordsQuarantinedByCredential, obs: o})
		return nil
	}, builder.TenantRecordsQuarantinedByCredential)
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
	builder.TenantRecordsAccepted, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenant_records_accepted",
		metric.WithDescription("Records (log records, data points, spans) stamped with a policy tenant, by tenant and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantRecordsQuarantined, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenant_records_quarantined",
		metric.WithDescription("Records sent to the _quarantine tenant, by reason and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantRecordsQuarantinedByCredential, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenant_records_quarantined_by_credential",
		metric.WithDescription("Records sent to the _quarantine tenant although their request authenticated with a policy tenant's key or certificate (a spoofed claim, or the tenant is suspended), by that tenant, reason and signal."),
		metric.WithUnit("{record}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
