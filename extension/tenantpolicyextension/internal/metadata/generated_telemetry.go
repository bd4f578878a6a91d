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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/extension/tenantpolicyextension")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/extension/tenantpolicyextension")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                    metric.Meter
	mu                       sync.Mutex
	registrations            []metric.Registration
	TenantpolicyAuthAccepted metric.Int64ObservableCounter
	TenantpolicyAuthRefused  metric.Int64ObservableCounter
	TenantpolicyReloads      metric.Int64Counter
	TenantpolicyTenantInfo   metric.Int64ObservableGauge
	TenantpolicyTenants      metric.Int64Gauge
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantpolicyAuthAcceptedCallback sets callback for observable TenantpolicyAuthAccepted metric.
func (builder *TelemetryBuilder) RegisterTenantpolicyAuthAcceptedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantpolicyAuthAccepted, obs: o})
		return nil
	}, builder.TenantpolicyAuthAccepted)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantpolicyAuthRefusedCallback sets callback for observable TenantpolicyAuthRefused metric.
func (builder *TelemetryBuilder) RegisterTenantpolicyAuthRefusedCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantpolicyAuthRefused, obs: o})
		return nil
	}, builder.TenantpolicyAuthRefused)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantpolicyTenantInfoCallback sets callback for observable TenantpolicyTenantInfo metric.
func (builder *TelemetryBuilder) RegisterTenantpolicyTenantInfoCallback(cb metric.Int64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerInt64{inst: builder.TenantpolicyTenantInfo, obs: o})
		return nil
	}, builder.TenantpolicyTenantInfo)
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
	builder.TenantpolicyAuthAccepted, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantpolicy_auth_accepted",
		metric.WithDescription("Requests authenticated, by tenant and source."),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantpolicyAuthRefused, err = builder.meter.Int64ObservableCounter(
		"otelcol_tenantpolicy_auth_refused",
		metric.WithDescription("Requests refused by the authenticator, by reason (missing_credentials, unknown_key, header_mismatch, malformed_header)."),
		metric.WithUnit("{request}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantpolicyReloads, err = builder.meter.Int64Counter(
		"otelcol_tenantpolicy_reloads",
		metric.WithDescription("Policy file loads, by result (success, failure)."),
		metric.WithUnit("{reload}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantpolicyTenantInfo, err = builder.meter.Int64ObservableGauge(
		"otelcol_tenantpolicy_tenant_info",
		metric.WithDescription("1 for each tenant declared in the policy in force, by tenant, tier and region (its residency, any when unset); dashboards join it on tenant to group by tier or region."),
		metric.WithUnit("1"),
	)
	errs = errors.Join(errs, err)
	builder.TenantpolicyTenants, err = builder.meter.Int64Gauge(
		"otelcol_tenantpolicy_tenants",
		metric.WithDescription("Tenants declared in the policy in force."),
		metric.WithUnit("{tenant}"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
