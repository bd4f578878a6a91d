// Package tenantprocessor resolves the tenant of every resource from the
// verified identity of the request, validates it against the policy, and
// stamps tenant.id and tenant.fingerprint; anything it cannot believe goes
// to the _quarantine tenant with a reason.
package tenantprocessor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenant processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability),
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
		processor.WithTraces(createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy")}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newTenantProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenant processor: %w", err)
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newTenantProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenant processor: %w", err)
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newTenantProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenant processor: %w", err)
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}
