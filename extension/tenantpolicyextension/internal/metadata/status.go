// Package metadata holds what metadata.yaml declares for the tenantpolicy
// extension. It is written by hand in the shape mdatagen generates, because
// mdatagen v0.165.0 is not served by the module proxy this project builds from.
package metadata

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

var (
	// Type is the component type users write in their config.
	Type = component.MustNewType("tenantpolicy")
	// ScopeName is the instrumentation scope of the self-metrics.
	ScopeName = "github.com/tenancyhq/tenancy/extension/tenantpolicyextension"
)

// ExtensionStability is the stability of the extension.
const ExtensionStability = component.StabilityLevelAlpha

// Telemetry holds the self-metrics declared in metadata.yaml.
type Telemetry struct {
	Reloads      metric.Int64Counter
	Tenants      metric.Int64Gauge
	AuthAccepted metric.Int64Counter
	AuthRefused  metric.Int64Counter
}

// NewTelemetry builds the self-metrics from the component's settings.
func NewTelemetry(set component.TelemetrySettings) (*Telemetry, error) {
	m := set.MeterProvider.Meter(ScopeName)
	var t Telemetry
	var err error
	if t.Reloads, err = m.Int64Counter("otelcol_tenantpolicy_reloads",
		metric.WithDescription("Policy file loads, by result (success, failure)."), metric.WithUnit("{reload}")); err != nil {
		return nil, err
	}
	if t.Tenants, err = m.Int64Gauge("otelcol_tenantpolicy_tenants",
		metric.WithDescription("Tenants declared in the policy in force."), metric.WithUnit("{tenant}")); err != nil {
		return nil, err
	}
	if t.AuthAccepted, err = m.Int64Counter("otelcol_tenantpolicy_auth_accepted",
		metric.WithDescription("Requests authenticated, by tenant and source."), metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	if t.AuthRefused, err = m.Int64Counter("otelcol_tenantpolicy_auth_refused",
		metric.WithDescription("Requests refused by the authenticator, by reason."), metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	return &t, nil
}
