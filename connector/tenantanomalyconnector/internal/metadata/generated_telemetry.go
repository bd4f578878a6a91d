// Written by hand as mdatagen v0.165.0 generates it from metadata.yaml
// (mdatagen is not served by the module proxy this project builds from);
// metadata_test.go fails on any drift.

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
	return settings.MeterProvider.Meter("github.com/tenancyhq/tenancy/connector/tenantanomalyconnector")
}

func Tracer(settings component.TelemetrySettings) trace.Tracer {
	return settings.TracerProvider.Tracer("github.com/tenancyhq/tenancy/connector/tenantanomalyconnector")
}

// TelemetryBuilder provides an interface for components to report telemetry
// as defined in metadata and user config.
type TelemetryBuilder struct {
	meter                 metric.Meter
	mu                    sync.Mutex
	registrations         []metric.Registration
	TenantanomalyExpected metric.Float64ObservableGauge
	TenantanomalyObserved metric.Float64ObservableGauge
	TenantanomalyScore    metric.Float64ObservableGauge
}

// TelemetryBuilderOption applies changes to default builder.
type TelemetryBuilderOption interface {
	apply(*TelemetryBuilder)
}

type telemetryBuilderOptionFunc func(mb *TelemetryBuilder)

func (tbof telemetryBuilderOptionFunc) apply(mb *TelemetryBuilder) {
	tbof(mb)
}

// RegisterTenantanomalyExpectedCallback sets callback for observable TenantanomalyExpected metric.
func (builder *TelemetryBuilder) RegisterTenantanomalyExpectedCallback(cb metric.Float64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerFloat64{inst: builder.TenantanomalyExpected, obs: o})
		return nil
	}, builder.TenantanomalyExpected)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantanomalyObservedCallback sets callback for observable TenantanomalyObserved metric.
func (builder *TelemetryBuilder) RegisterTenantanomalyObservedCallback(cb metric.Float64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerFloat64{inst: builder.TenantanomalyObserved, obs: o})
		return nil
	}, builder.TenantanomalyObserved)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

// RegisterTenantanomalyScoreCallback sets callback for observable TenantanomalyScore metric.
func (builder *TelemetryBuilder) RegisterTenantanomalyScoreCallback(cb metric.Float64Callback) error {
	reg, err := builder.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		cb(ctx, &observerFloat64{inst: builder.TenantanomalyScore, obs: o})
		return nil
	}, builder.TenantanomalyScore)
	if err != nil {
		return err
	}
	builder.mu.Lock()
	defer builder.mu.Unlock()
	builder.registrations = append(builder.registrations, reg)
	return nil
}

type observerFloat64 struct {
	embedded.Float64Observer
	inst metric.Float64Observable
	obs  metric.Observer
}

func (oi *observerFloat64) Observe(value float64, opts ...metric.ObserveOption) {
	oi.obs.ObserveFloat64(oi.inst, value, opts...)
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
	builder.TenantanomalyExpected, err = builder.meter.Float64ObservableGauge(
		"otelcol_tenantanomaly_expected",
		metric.WithDescription("Value the detector's baseline expected for the last closed interval (the anomaly record's anomaly.expected), by tenant and feature."),
		metric.WithUnit("{value}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantanomalyObserved, err = builder.meter.Float64ObservableGauge(
		"otelcol_tenantanomaly_observed",
		metric.WithDescription("Value of the last closed interval (the anomaly record's anomaly.observed), by tenant and feature."),
		metric.WithUnit("{value}"),
	)
	errs = errors.Join(errs, err)
	builder.TenantanomalyScore, err = builder.meter.Float64ObservableGauge(
		"otelcol_tenantanomaly_score",
		metric.WithDescription("Anomaly score in [0,1] of the last closed interval, by tenant and feature (signal.feature, e.g. logs.records)."),
		metric.WithUnit("1"),
	)
	errs = errors.Join(errs, err)
	return &builder, errs
}
