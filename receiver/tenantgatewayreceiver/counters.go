package tenantgatewayreceiver

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

// seriesKey names one series set. Tenant values are policy tenants,
// unknownTenant or unauthenticatedTenant, so the series stay bounded.
type seriesKey struct {
	tenant, protocol, signal string
}

const unauthenticatedTenant = "_unauthenticated"

type seriesCounts struct {
	requests, records, bytes atomic.Int64
	mu                       sync.Mutex
	refused                  map[string]*atomic.Int64
}

func (s *seriesCounts) refuse(reason string) {
	s.mu.Lock()
	c, ok := s.refused[reason]
	if !ok {
		c = new(atomic.Int64)
		s.refused[reason] = c
	}
	s.mu.Unlock()
	c.Add(1)
}

// counters are the receiver's self-metrics: atomics on the hot path, read
// by the SDK at collection time.
type counters struct{ m sync.Map } // seriesKey -> *seriesCounts

func (c *counters) series(k seriesKey) *seriesCounts {
	if v, ok := c.m.Load(k); ok {
		return v.(*seriesCounts)
	}
	v, _ := c.m.LoadOrStore(k, &seriesCounts{refused: map[string]*atomic.Int64{}})
	return v.(*seriesCounts)
}

// register declares the observable counters of metadata.yaml.
func (c *counters) register(set component.TelemetrySettings) (metric.Registration, error) {
	m := metadata.Meter(set)
	req, err := m.Int64ObservableCounter(metadata.RequestsName, metric.WithDescription(metadata.RequestsDescription), metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	rec, err := m.Int64ObservableCounter(metadata.RecordsName, metric.WithDescription(metadata.RecordsDescription), metric.WithUnit("{record}"))
	if err != nil {
		return nil, err
	}
	byt, err := m.Int64ObservableCounter(metadata.BytesName, metric.WithDescription(metadata.BytesDescription), metric.WithUnit("By"))
	if err != nil {
		return nil, err
	}
	ref, err := m.Int64ObservableCounter(metadata.RefusedName, metric.WithDescription(metadata.RefusedDescription), metric.WithUnit("{request}"))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c.m.Range(func(k, v any) bool {
			key, s := k.(seriesKey), v.(*seriesCounts)
			attrs := []attribute.KeyValue{
				attribute.String("tenant", key.tenant),
				attribute.String("protocol", key.protocol),
				attribute.String("signal", key.signal),
			}
			set := metric.WithAttributes(attrs...)
			o.ObserveInt64(req, s.requests.Load(), set)
			o.ObserveInt64(rec, s.records.Load(), set)
			o.ObserveInt64(byt, s.bytes.Load(), set)
			s.mu.Lock()
			for reason, n := range s.refused {
				o.ObserveInt64(ref, n.Load(), metric.WithAttributes(append(attrs, attribute.String("reason", reason))...))
			}
			s.mu.Unlock()
			return true
		})
		return nil
	}, req, rec, byt, ref)
}
