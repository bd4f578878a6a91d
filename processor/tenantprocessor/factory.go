// Package tenantprocessor resolves the tenant of every resource from the
// verified identity of the request, validates it against the policy, and
// stamps tenant.id and tenant.fingerprint; anything it cannot believe goes
// to the _quarantine tenant with a reason.
package tenantprocessor

import (
	"context"
	"fmt"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

var processorCapabilities = consumer.Capabilities{MutatesData: true}

// NewFactory returns the factory of the tenant processor.
func NewFactory() processor.Factory {
	r := &registry{m: map[component.ID]*shared{}}
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(r.createLogs, metadata.LogsStability),
		processor.WithMetrics(r.createMetrics, metadata.MetricsStability),
		processor.WithTraces(r.createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	return &Config{Policy: component.MustNewID("tenantpolicy")}
}

// registry shares one processor among the signal instances of a component
// id, as contrib's sharedcomponent does. The collector builds one instance
// per pipeline, each with its own meter; per-tenant counters registered by
// each instance under the same names reached the collector's Prometheus
// endpoint for one signal only. Shared, the counters are registered once
// and count every signal. One registry per factory, so tests do not share.
type registry struct {
	mu sync.Mutex
	m  map[component.ID]*shared
}

type shared struct {
	p     *tenantProcessor
	users int
}

// acquire returns the id's processor, creating it for the first instance,
// and the shutdown function of one instance.
func (r *registry) acquire(cfg component.Config, set processor.Settings) (*tenantProcessor, component.ShutdownFunc, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[set.ID]
	if !ok {
		p, err := newTenantProcessor(cfg.(*Config), set)
		if err != nil {
			return nil, nil, fmt.Errorf("tenant processor: %w", err)
		}
		s = &shared{p: p}
		r.m[set.ID] = s
	}
	s.users++
	var once sync.Once
	release := func(context.Context) error {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if s.users--; s.users == 0 && r.m[set.ID] == s {
				delete(r.m, set.ID)
			}
		})
		return nil
	}
	return s.p, release, nil
}

func (r *registry) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, release, err := r.acquire(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start), processorhelper.WithShutdown(release))
}

func (r *registry) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, release, err := r.acquire(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start), processorhelper.WithShutdown(release))
}

func (r *registry) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, release, err := r.acquire(cfg, set)
	if err != nil {
		return nil, err
	}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces,
		processorhelper.WithCapabilities(processorCapabilities), processorhelper.WithStart(p.start), processorhelper.WithShutdown(release))
}
