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
	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
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

// routers shares one router between the logs, metrics and traces
// exporters created from the same config.
var routers = sharedcomponent.NewMap[*Config, *router]()

// sharedRouter is one exporter's hold on its config's router.
// sharedcomponent stops a component at its first Shutdown, which suits a
// receiver (the collector stops receivers first) but not the router: the
// collector stops each node after its upstream, not one signal's
// pipelines after another's, so the metrics pipeline may still be
// draining into the router when the logs exporter shuts down. The last of
// its exporters to shut down stops it.
type sharedRouter struct {
	*sharedcomponent.Component[*router]
}

func routerFor(cfg *Config, set exporter.Settings) (sharedRouter, error) {
	c, err := routers.LoadOrStore(cfg, func() (*router, error) { return newRouter(cfg, set) })
	return sharedRouter{c}, err
}

func (s sharedRouter) start(ctx context.Context, host component.Host) error {
	r := s.Unwrap()
	r.mu.Lock()
	r.users++
	r.mu.Unlock()
	return s.Start(ctx, host)
}

func (s sharedRouter) shutdown(ctx context.Context) error {
	r := s.Unwrap()
	r.mu.Lock()
	r.users--
	last := r.users <= 0
	r.mu.Unlock()
	if !last {
		return nil
	}
	return s.Shutdown(ctx)
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewLogs(ctx, set, cfg, r.Unwrap().consumeLogs, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewMetrics(ctx, set, cfg, r.Unwrap().consumeMetrics, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	r, err := routerFor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantrouter: %w", err)
	}
	return exporterhelper.NewTraces(ctx, set, cfg, r.Unwrap().consumeTraces, exporterhelper.WithCapabilities(capabilities),
		exporterhelper.WithStart(r.start), exporterhelper.WithShutdown(r.shutdown))
}
