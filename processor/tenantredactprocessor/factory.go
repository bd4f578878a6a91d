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

	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenantredact processor.
//
// The signal instances of one component id share one processor: one rule
// set (at 10,000 tenants the automaton holds about 10 MB and its build
// allocates several times that, once per signal pipeline otherwise) and one
// set of counters, registered with the first instance's meter, that count
// every signal. One map per factory, so tests do not share.
func NewFactory() processor.Factory {
	return newFactory().processorFactory()
}

type factory struct {
	procs *sharedcomponent.Map[component.ID, *redactProcessor]
}

func newFactory() *factory {
	return &factory{procs: sharedcomponent.NewMap[component.ID, *redactProcessor]()}
}

func (f *factory) processorFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(f.createLogs, metadata.LogsStability),
		processor.WithMetrics(f.createMetrics, metadata.MetricsStability),
		processor.WithTraces(f.createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy")}
}

// shared returns the id's processor, creating it for the first signal
// instance; it is started once and shut down by the first Shutdown.
func (f *factory) shared(cfg component.Config, set processor.Settings) (*sharedcomponent.Component[*redactProcessor], error) {
	c, err := f.procs.LoadOrStore(set.ID, func() (*redactProcessor, error) {
		return newRedactProcessor(cfg.(*Config), set)
	})
	if err != nil {
		return nil, fmt.Errorf("tenantredact processor: %w", err)
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
