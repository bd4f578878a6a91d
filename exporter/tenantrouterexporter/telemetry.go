package tenantrouterexporter

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/selfmetrics"
)

const signalCount = 3

func signalIndex(s policy.Signal) int {
	switch s {
	case policy.SignalMetrics:
		return 1
	case policy.SignalTraces:
		return 2
	}
	return 0
}

type statsKey struct{ tenant, backend string }

func (k statsKey) attrs(extra ...attribute.KeyValue) []attribute.KeyValue {
	return append([]attribute.KeyValue{attribute.String("tenant", k.tenant), attribute.String("backend", k.backend)}, extra...)
}

// telemetry holds every queue's counters. Tenants are bounded by the
// policy (ids it does not know go to _quarantine), so the series are too.
type telemetry struct {
	stats selfmetrics.Series[statsKey, queueStats]
	// builder holds the callbacks' registrations, undone by shutdown.
	builder *metadata.TelemetryBuilder
}

func newTelemetry() *telemetry { return &telemetry{} }

func (t *telemetry) of(tenant, backend string) *queueStats {
	return t.stats.Get(statsKey{tenant, backend})
}

// register reads the counters from the observable instruments of
// metadata.yaml: counters report a series once something was counted in
// it, gauges report every queue. Called once per router.
func (t *telemetry) register(set component.TelemetrySettings) error {
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return err
	}
	t.builder = tb
	gauge := func(value func(*queueStats) int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			t.stats.Range(func(k statsKey, s *queueStats) { o.Observe(value(s), metric.WithAttributes(k.attrs()...)) })
			return nil
		}
	}
	return errors.Join(
		tb.RegisterTenantrouterRecordsSentCallback(func(_ context.Context, o metric.Int64Observer) error {
			t.stats.Range(func(k statsKey, s *queueStats) {
				for i, sig := range policy.Signals {
					selfmetrics.ObserveNonZero(o, &s.sent[i], k.attrs(attribute.String("signal", string(sig)))...)
				}
			})
			return nil
		}),
		tb.RegisterTenantrouterRecordsFailedCallback(func(_ context.Context, o metric.Int64Observer) error {
			t.stats.Range(func(k statsKey, s *queueStats) {
				for i, sig := range policy.Signals {
					for r, reason := range reasonNames {
						selfmetrics.ObserveNonZero(o, &s.failed[i][r], k.attrs(attribute.String("signal", string(sig)), attribute.String("reason", reason))...)
					}
				}
			})
			return nil
		}),
		tb.RegisterTenantrouterQueueSizeCallback(gauge(func(s *queueStats) int64 { return s.size.Load() })),
		tb.RegisterTenantrouterQueueBytesCallback(gauge(func(s *queueStats) int64 { return s.bytes.Load() })),
		tb.RegisterTenantrouterMetricsUntranslatedCallback(func(_ context.Context, o metric.Int64Observer) error {
			t.stats.Range(func(k statsKey, s *queueStats) {
				for i, reason := range untranslatedReasons {
					selfmetrics.ObserveNonZero(o, &s.untranslated[i], k.attrs(attribute.String("reason", reason))...)
				}
			})
			return nil
		}),
		tb.RegisterTenantrouterRetriesCallback(func(_ context.Context, o metric.Int64Observer) error {
			t.stats.Range(func(k statsKey, s *queueStats) { selfmetrics.ObserveNonZero(o, &s.retries, k.attrs()...) })
			return nil
		}),
	)
}

// shutdown unregisters register's callbacks.
func (t *telemetry) shutdown() {
	if t.builder != nil {
		t.builder.Shutdown()
	}
}
