package tenantgatewayreceiver

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/internal/selfmetrics"
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
	refused                  selfmetrics.Series[string, atomic.Int64] // by reason
}

func (s *seriesCounts) refuse(reason string) { s.refused.Get(reason).Add(1) }

// counters are the receiver's self-metrics: atomics on the hot path, read
// by the TelemetryBuilder's callbacks at collection time. A series reports
// its requests, records and bytes from its first request, zeros included.
type counters struct {
	all selfmetrics.Series[seriesKey, seriesCounts]
}

func (c *counters) series(k seriesKey) *seriesCounts { return c.all.Get(k) }

func (k seriesKey) attrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("tenant", k.tenant),
		attribute.String("protocol", k.protocol),
		attribute.String("signal", k.signal),
	}
}

// observeEach reports one value per series.
func (c *counters) observeEach(value func(*seriesCounts) *atomic.Int64) metric.Int64Callback {
	return func(_ context.Context, o metric.Int64Observer) error {
		c.all.Range(func(k seriesKey, s *seriesCounts) {
			o.Observe(value(s).Load(), metric.WithAttributes(k.attrs()...))
		})
		return nil
	}
}

// register reads the counters from the observable counters of metadata.yaml.
func (c *counters) register(tb *metadata.TelemetryBuilder) error {
	return errors.Join(
		tb.RegisterTenantgatewayRequestsCallback(c.observeEach(func(s *seriesCounts) *atomic.Int64 { return &s.requests })),
		tb.RegisterTenantgatewayRecordsCallback(c.observeEach(func(s *seriesCounts) *atomic.Int64 { return &s.records })),
		tb.RegisterTenantgatewayBytesCallback(c.observeEach(func(s *seriesCounts) *atomic.Int64 { return &s.bytes })),
		tb.RegisterTenantgatewayRefusedCallback(func(_ context.Context, o metric.Int64Observer) error {
			c.all.Range(func(k seriesKey, s *seriesCounts) {
				s.refused.Range(func(reason string, n *atomic.Int64) {
					o.Observe(n.Load(), metric.WithAttributes(append(k.attrs(), attribute.String("reason", reason))...))
				})
			})
			return nil
		}),
	)
}
