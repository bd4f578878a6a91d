package tenantprocessor

import (
	"context"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// reason is why a resource went to quarantine; reasonNone when it did not.
type reason uint8

const (
	reasonNone       reason = iota
	reasonSpoofed           // a claim contradicts the verified identity
	reasonUnverified        // a claim alone, and claims are not allowed
	reasonMissing           // no identity and no claim
	reasonMalformed         // the id breaks the tenant id rules
	reasonReserved          // the id names a pipeline tenant (_...)
	reasonUnknown           // the id is not in the policy
	reasonSuspended         // the tenant is suspended
	reasonCount
)

var reasonNames = [reasonCount]string{"", "spoofed", "unverified", "missing", "malformed", "reserved", "unknown", "suspended"}

// String is the value of tenant.quarantine.reason.
func (r reason) String() string { return reasonNames[r] }

type signal uint8

const (
	signalLogs signal = iota
	signalMetrics
	signalTraces
	signalCount
)

var signalNames = [signalCount]string{"logs", "metrics", "traces"}

type signalCounts [signalCount]atomic.Int64

// counters are the processor's self-metrics. Counts per tenant live as
// long as the processor, across policy reloads, so the counters stay
// monotonic; a tenant's series exists once it has been in a policy.
type counters struct {
	mu          sync.Mutex
	perTenant   map[string]*signalCounts
	quarantined [reasonCount]signalCounts
}

func newCounters() *counters {
	return &counters{perTenant: map[string]*signalCounts{}}
}

func (c *counters) accepted(tenant string) *signalCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.perTenant[tenant]
	if !ok {
		sc = new(signalCounts)
		c.perTenant[tenant] = sc
	}
	return sc
}

func (p *tenantProcessor) count(e *tenantEntry, r reason, s signal, n int) {
	if n == 0 {
		return
	}
	if r != reasonNone {
		p.counters.quarantined[r][s].Add(int64(n))
		return
	}
	e.counts[s].Add(int64(n))
}

func (c *counters) register(set component.TelemetrySettings) error {
	m := metadata.Meter(set)
	_, err := m.Int64ObservableCounter(metadata.RecordsAcceptedName,
		metric.WithDescription(metadata.RecordsAcceptedDescription), metric.WithUnit(metadata.RecordUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			c.mu.Lock()
			defer c.mu.Unlock()
			for tenant, sc := range c.perTenant {
				for s := range signalCount {
					if n := sc[s].Load(); n > 0 {
						o.Observe(n, metric.WithAttributes(attribute.String("tenant", tenant), attribute.String("signal", signalNames[s])))
					}
				}
			}
			return nil
		}))
	if err != nil {
		return err
	}
	_, err = m.Int64ObservableCounter(metadata.RecordsQuarantinedName,
		metric.WithDescription(metadata.RecordsQuarantinedDesc), metric.WithUnit(metadata.RecordUnit),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			for r := reasonNone + 1; r < reasonCount; r++ {
				for s := range signalCount {
					if n := c.quarantined[r][s].Load(); n > 0 {
						o.Observe(n, metric.WithAttributes(attribute.String("reason", r.String()), attribute.String("signal", signalNames[s])))
					}
				}
			}
			return nil
		}))
	return err
}
