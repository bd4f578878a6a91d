// Package tenantredactprocessor removes other tenants' identifiers and the
// PII and secret classes of each tenant's policy from logs, metrics and
// traces, and stamps an audit of what it did on every changed record. It
// runs after the tenant processor, whose tenant.id it trusts; the work is
// done by internal/redact.
package tenantredactprocessor

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenantredact processor.
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
	p, err := newRedactProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantredact processor: %w", err)
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newRedactProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantredact processor: %w", err)
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newRedactProcessor(cfg.(*Config), set)
	if err != nil {
		return nil, fmt.Errorf("tenantredact processor: %w", err)
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}
