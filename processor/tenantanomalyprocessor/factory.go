// Package tenantanomalyprocessor learns a baseline per tenant and feature
// (records, bytes, error ratio, quarantined and redacted records, distinct
// services, span latency) over fixed intervals, and emits a log record to
// the _governance tenant when a tenant's interval deviates from it.
// Baselines survive restarts through a storage extension.
//
// All the signal instances of one component id share one state: a logs,
// a metrics and a traces pipeline that list the same tenantanomaly id feed
// the same tenants' series, and the logs instance emits the anomaly records.
package tenantanomalyprocessor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/processor/tenantanomalyprocessor/internal/metadata"
)

// NewFactory returns the factory of the tenantanomaly processor.
func NewFactory() processor.Factory {
	return newRegistry(options{now: time.Now}).factory()
}

// options are what tests change: the clock, and whether a ticker runs.
type options struct {
	now    func() time.Time
	manual bool
}

// registry holds the monitor of each component id, as contrib's
// sharedcomponent does, so the signal instances of one id share state. One
// per factory, so tests do not share it.
type registry struct {
	opts options
	mu   sync.Mutex
	m    map[component.ID]*monitor
}

func newRegistry(opts options) *registry {
	return &registry{opts: opts, m: map[component.ID]*monitor{}}
}

func (r *registry) factory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(r.createLogs, metadata.LogsStability),
		processor.WithMetrics(r.createMetrics, metadata.MetricsStability),
		processor.WithTraces(r.createTraces, metadata.TracesStability))
}

func createDefaultConfig() component.Config {
	d := anomaly.DefaultConfig()
	return &Config{
		Policy:             component.MustNewID("tenantpolicy"),
		Interval:           time.Minute,
		Threshold:          0.5,
		Probation:          d.Probation,
		Suppress:           d.Suppress,
		CheckpointInterval: 5 * time.Minute,
	}
}

// acquire returns the id's monitor, creating it for the first instance.
func (r *registry) acquire(set processor.Settings, cfg *Config) (*monitor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.m[set.ID]
	if !ok {
		var err error
		if m, err = newMonitor(set.ID, cfg, set.TelemetrySettings, r.opts); err != nil {
			return nil, err
		}
		r.m[set.ID] = m
	}
	m.mu.Lock()
	m.users++
	m.mu.Unlock()
	return m, nil
}

func (r *registry) get(id component.ID) *monitor {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[id]
}

func (r *registry) options(set processor.Settings, cfg *Config, m *monitor) []processorhelper.Option {
	return []processorhelper.Option{
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: cfg.Annotate}),
		processorhelper.WithStart(m.start),
		processorhelper.WithShutdown(func(ctx context.Context) error {
			last, err := m.release(ctx)
			if last {
				r.mu.Lock()
				if r.m[set.ID] == m {
					delete(r.m, set.ID)
				}
				r.mu.Unlock()
			}
			return err
		}),
	}
}

func (r *registry) createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c := cfg.(*Config)
	m, err := r.acquire(set, c)
	if err != nil {
		return nil, fmt.Errorf("tenantanomaly processor: %w", err)
	}
	// The first logs pipeline that lists the id receives the anomaly
	// records; a second one would only get copies.
	m.mu.Lock()
	if m.logsNext == nil {
		m.logsNext = next
	}
	m.mu.Unlock()
	p := &anomalyProcessor{m: m}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs, r.options(set, c, m)...)
}

func (r *registry) createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c := cfg.(*Config)
	m, err := r.acquire(set, c)
	if err != nil {
		return nil, fmt.Errorf("tenantanomaly processor: %w", err)
	}
	p := &anomalyProcessor{m: m}
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics, r.options(set, c, m)...)
}

func (r *registry) createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c := cfg.(*Config)
	m, err := r.acquire(set, c)
	if err != nil {
		return nil, fmt.Errorf("tenantanomaly processor: %w", err)
	}
	p := &anomalyProcessor{m: m}
	return processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces, r.options(set, c, m)...)
}
