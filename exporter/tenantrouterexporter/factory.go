// Package tenantrouterexporter sends each tenant's telemetry to the
// backends its policy names, through one bounded queue per (tenant,
// backend) with its own retry and backoff, so one tenant's slow or dead
// backend never delays another tenant's data. Batches are split by the
// resource attribute tenant.id; a request never carries two tenants.
// Resources without a valid stamped tenant go to _quarantine.
package tenantrouterexporter

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter/internal/metadata"
)

// NewFactory returns the factory of the tenantrouter exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
		exporter.WithTraces(createTraces, metadata.TracesStability))
}

// The router changes its input (a resource that belongs to no one is
// rewritten into _quarantine) and keeps it queued after ConsumeX returns.
// Declaring it lets the collector hand it a batch of its own, cloned only
// when another consumer shares the batch, where copying every resource
// itself would cost a copy always.
var capabilities = consumer.Capabilities{MutatesData: true}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewLogs(ctx, set, cfg, r.consumeLogs, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewMetrics(ctx, set, cfg, r.consumeMetrics, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewTraces(ctx, set, cfg, r.consumeTraces, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}
