// Package tenantgatewayreceiver is Tenancy's authenticated front door: one
// HTTP server that takes OTLP/HTTP (logs, metrics, traces), the Loki push
// API and Prometheus remote write v1, refuses any request without a
// verified tenant, applies the tenant's edge limits from the policy, and
// hands the data on with the verified tenant in the request context.
package tenantgatewayreceiver

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

// NewFactory returns the factory of the tenantgateway receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
		receiver.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = "localhost:4318"
	grpc := configgrpc.NewDefaultServerConfig()
	grpc.NetAddr.Endpoint = "localhost:4317"
	return &Config{ServerConfig: srv, Policy: component.MustNewID("tenantpolicy"), GRPC: configoptional.Default(grpc), MaxInFlightBytes: defaultMaxInFlightBytes}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	g, err := gatewayFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantgateway receiver: %w", err)
	}
	g.Unwrap().logs = next
	return g, nil
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	g, err := gatewayFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantgateway receiver: %w", err)
	}
	g.Unwrap().metrics = next
	return g, nil
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	g, err := gatewayFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantgateway receiver: %w", err)
	}
	g.Unwrap().traces = next
	return g, nil
}
