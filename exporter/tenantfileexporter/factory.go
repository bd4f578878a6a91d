// Package tenantfileexporter writes each tenant's telemetry to its own
// folder, one OTLP/JSON request per line (the file exporter's format):
// <directory>/<tenant.id>/<signal>.jsonl. Only a tenant the policy
// declares and keeps active gets a folder: any other resource (no
// tenant.id, a repeated one, an unknown, suspended or invalid tenant) goes
// to the _quarantine folder with its reason, never to a tenant's. It is the
// simplest per-tenant partition, for trying Tenancy and for tests.
package tenantfileexporter

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/tenancyhq/tenancy/exporter/tenantfileexporter/internal/metadata"
)

// NewFactory returns the factory of the tenantfile exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy")}
}

// The exporter rewrites a resource that belongs to no one into
// _quarantine, so it declares that it changes its input: the collector then
// hands it a batch of its own, cloned only when another consumer shares it.
var capabilities = consumer.Capabilities{MutatesData: true}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	w := newTenantWriter(cfg.(*Config), "logs")
	return exporterhelper.NewLogs(ctx, set, cfg, w.writeLogs, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(w.start), exporterhelper.WithShutdown(w.shutdown))
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	w := newTenantWriter(cfg.(*Config), "metrics")
	return exporterhelper.NewMetrics(ctx, set, cfg, w.writeMetrics, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(w.start), exporterhelper.WithShutdown(w.shutdown))
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	w := newTenantWriter(cfg.(*Config), "traces")
	return exporterhelper.NewTraces(ctx, set, cfg, w.writeTraces, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(w.start), exporterhelper.WithShutdown(w.shutdown))
}
