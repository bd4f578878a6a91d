// Package tenantretentionprocessor applies each tenant's retention and
// residency from the policy: it drops (or flags) records older than the
// tenant's retention for their signal and the data of tenants whose
// residency is another region than the collector's, and stamps every
// resource with the retention and residency its backends must apply. It
// runs after the tenant processor, whose tenant.id it trusts.
package tenantretentionprocessor

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenantretention processor.
func NewFactory() processor.Factory { return newFactory(time.Now) }

// newFactory builds processors that read the time from now (tests fix it).
func newFactory(now func() time.Time) processor.Factory {
	f := factory{now: now}
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(f.createLogs, metadata.LogsStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithTraces(f.createTraces, metadata.TracesStability))
}

type factory struct{ now func() time.Time }

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy"), Expired: ActionDrop, OutOfRegion: ActionDrop}
}

func (f factory) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newRetentionProcessor(cfg.(*Config), set, f.now)
	if err != nil {
		return nil, fmt.Errorf("tenantretention processor: %w", err)
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func (f factory) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newRetentionProcessor(cfg.(*Config), set, f.now)
	if err != nil {
		return nil, fmt.Errorf("tenantretention processor: %w", err)
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}

func (f factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newRetentionProcessor(cfg.(*Config), set, f.now)
	if err != nil {
		return nil, fmt.Errorf("tenantretention processor: %w", err)
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start))
}
