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

	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenant processor.
//
// The signal instances of one component id share one processor. The
// collector builds one instance per pipeline, each with its own meter;
// per-tenant counters registered by each instance under the same names
// reached the collector's Prometheus endpoint for one signal only. Shared,
// the counters are registered once and count every signal. One map per
// factory, so tests do not share.
func NewFactory() processor.Factory {
	f := &factory{procs: sharedcomponent.NewMap[component.ID, *tenantProcessor]()}
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(f.createLogs, metadata.LogsStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithTraces(f.createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy")}
}

type factory struct {
	procs *sharedcomponent.Map[component.ID, *tenantProcessor]
}

// shared returns the id's processor, creating it for the first signal
// instance; it is started once and shut down by the first Shutdown.
func (f *factory) shared(cfg component.Config, set processor.Settings) (*sharedcomponent.Component[*tenantProcessor], error) {
	c, err := f.procs.LoadOrStore(set.ID, func() (*tenantProcessor, error) {
		return newTenantProcessor(cfg.(*Config), set)
	})
	if err != nil {
		return nil, fmt.Errorf("tenant processor: %w", err)
	}
	return c, nil
}

func (f *factory) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c, err := f.shared(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, c.Unwrap().processLogs,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(c.Start), processorhelper.WithShutdown(c.Shutdown))
}

func (f *factory) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c, err := f.shared(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, c.Unwrap().processMetrics,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(c.Start), processorhelper.WithShutdown(c.Shutdown))
}

func (f *factory) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c, err := f.shared(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, c.Unwrap().processTraces,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(c.Start), processorhelper.WithShutdown(c.Shutdown))
}
