// Package tenantanomalyconnector learns a baseline per tenant and feature
// (records, bytes, error ratio, quarantined and redacted records, distinct
// services, span latency) over fixed intervals, and emits a log record to
// the _governance tenant when a tenant's interval deviates from it. Access
// patterns (authentication failures, spoofs, never-seen client addresses,
// reads of the tenant's store, requests per credential) come from the
// policy extension's counts and are judged by rules.
// Baselines survive restarts through a storage extension.
//
// It is a connector, like contrib's count and span-metrics connectors: an
// exporter of the tenant pipelines (logs, metrics or traces in) and a
// receiver of the logs pipelines that carry its anomaly records (logs out).
// What it observes goes no further through it.
//
// The collector builds one instance per (input signal, logs) pair of a
// component id; they share one monitor through internal/sharedcomponent, so
// a tenant's logs, metrics and traces feed one set of series and one timer
// emits the records.
package tenantanomalyconnector

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/sharedcomponent"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// NewFactory returns the factory of the tenantanomaly connector.
func NewFactory() connector.Factory {
	return newFactory(options{now: time.Now})
}

// options are what tests change: the clock, and whether a ticker runs.
type options struct {
	now    func() time.Time
	manual bool
}

// factory holds the monitor of each component id. One map per factory, so
// tests do not share monitors.
type factory struct {
	opts     options
	monitors *sharedcomponent.Map[component.ID, *monitor]
}

func newFactory(opts options) connector.Factory {
	f := &factory{opts: opts, monitors: sharedcomponent.NewMap[component.ID, *monitor]()}
	return connector.NewFactory(metadata.Type, createDefaultConfig,
		connector.WithLogsToLogs(f.createLogsToLogs, metadata.LogsToLogsStability),
		connector.WithMetricsToLogs(f.createMetricsToLogs, metadata.MetricsToLogsStability),
		connector.WithTracesToLogs(f.createTracesToLogs, metadata.TracesToLogsStability))
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
		Access: AccessConfig{AuthFailureBurst: 10, AuthFailureFactor: 3, StoreReadBurst: 10, StoreReadFactor: 3,
			CredentialRequestBurst: 100, CredentialRequestFactor: 3},
	}
}

// acquire returns the id's monitor, creating it for the first instance.
// The records go to the logs consumer of that first instance: the
// collector hands every instance of one id a router to the same logs
// pipelines (those that list the id as a receiver), so any one would do,
// and using one emits each record once.
func (f *factory) acquire(set connector.Settings, cfg component.Config, next consumer.Logs) (*sharedcomponent.Component[*monitor], error) {
	return f.monitors.LoadOrStore(set.ID, func() (*monitor, error) {
		return newMonitor(set, cfg.(*Config), next, f.opts)
	})
}

func (f *factory) createLogsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Logs, error) {
	m, err := f.acquire(set, cfg, next)
	if err != nil {
		return nil, err
	}
	return logsConnector{instance{m}}, nil
}

func (f *factory) createMetricsToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Metrics, error) {
	m, err := f.acquire(set, cfg, next)
	if err != nil {
		return nil, err
	}
	return metricsConnector{instance{m}}, nil
}

func (f *factory) createTracesToLogs(_ context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	m, err := f.acquire(set, cfg, next)
	if err != nil {
		return nil, err
	}
	return tracesConnector{instance{m}}, nil
}

// instance is one input signal's connector; Start and Shutdown are the
// shared monitor's, run once for all instances of the id. The first
// Shutdown stops it; what another instance still receives after that
// falls in the open interval, which a shutdown drops unscored anyway.
type instance struct {
	*sharedcomponent.Component[*monitor]
}

// Capabilities: the connector reads what it is given and changes nothing.
func (instance) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

type logsConnector struct{ instance }

// A spread tenant's shards other than 0 are not observed: its baselines
// are learnt on shard 0 (tenantkafka.Sampled).

func (c logsConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if tenantkafka.Sampled(ctx) {
		c.Unwrap().consumeLogs(ld)
	}
	return nil
}

type metricsConnector struct{ instance }

func (c metricsConnector) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if tenantkafka.Sampled(ctx) {
		c.Unwrap().consumeMetrics(md)
	}
	return nil
}

type tracesConnector struct{ instance }

func (c tracesConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	if tenantkafka.Sampled(ctx) {
		c.Unwrap().consumeTraces(td)
	}
	return nil
}
