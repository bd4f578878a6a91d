package tenantrouterexporter

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/policy"
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

// telemetry holds every queue's counters. Tenants are bounded by the
// policy (ids it does not know go to _quarantine), so the series are too.
type telemetry struct {
	mu    sync.Mutex
	stats map[statsKey]*queueStats
}

func newTelemetry() *telemetry { return &telemetry{stats: map[statsKey]*queueStats{}} }

func (t *telemetry) of(tenant, backend string) *queueStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := statsKey{tenant, backend}
	s, ok := t.stats[k]
	if !ok {
		s = &queueStats{}
		t.stats[k] = s
	}
	return s
}

func (t *telemetry) each(fn func(k statsKey, s *queueStats)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, s := range t.stats {
		fn(k, s)
	}
}

func (t *telemetry) register(set component.TelemetrySettings) error {
	m := metadata.Meter(set)
	attrs := func(k statsKey, extra ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributes(append([]attribute.KeyValue{attribute.String("tenant", k.tenant), attribute.String("backend", k.backend)}, extra...)...)
	}
	_, err := m.Int64ObservableCounter(metadata.RecordsSentName, metric.WithDescription(metadata.RecordsSentDesc), metric.WithUnit(metadata.RecordUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) {
				for i, sig := range policy.Signals {
					if n := s.sent[i].Load(); n > 0 {
						o.Observe(n, attrs(k, attribute.String("signal", string(sig))))
					}
				}
			})
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableCounter(metadata.RecordsFailedName, metric.WithDescription(metadata.RecordsFailedDesc), metric.WithUnit(metadata.RecordUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) {
				for i, sig := range policy.Signals {
					for r, reason := range reasonNames {
						if n := s.failed[i][r].Load(); n > 0 {
							o.Observe(n, attrs(k, attribute.String("signal", string(sig)), attribute.String("reason", reason)))
						}
					}
				}
			})
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableGauge(metadata.QueueSizeName, metric.WithDescription(metadata.QueueSizeDesc), metric.WithUnit(metadata.BatchUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) { o.Observe(s.size.Load(), attrs(k)) })
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableGauge(metadata.QueueBytesName, metric.WithDescription(metadata.QueueBytesDesc), metric.WithUnit(metadata.ByteUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) { o.Observe(s.bytes.Load(), attrs(k)) })
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableCounter(metadata.MetricsUntranslatedName, metric.WithDescription(metadata.MetricsUntranslatedDesc), metric.WithUnit(metadata.MetricUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) {
				for i, reason := range untranslatedReasons {
					if n := s.untranslated[i].Load(); n > 0 {
						o.Observe(n, attrs(k, attribute.String("reason", reason)))
					}
				}
			})
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableCounter(metadata.RetriesName, metric.WithDescription(metadata.RetriesDesc), metric.WithUnit(metadata.RetryUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			t.each(func(k statsKey, s *queueStats) {
				if n := s.retries.Load(); n > 0 {
					o.Observe(n, attrs(k))
				}
			})
			return nil
		}))
	return err
}
