package tenantprocessor

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/internal/selfmetrics"
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
// monotonic; a tenant's series appears once something was counted in it.
type counters struct {
	perTenant   selfmetrics.Series[string, signalCounts]
	quarantined [reasonCount]signalCounts
	// byCredential counts quarantined records by the policy tenant whose
	// key or certificate sent them, so a tenant's dashboard and alerts see
	// spoofing done with its credentials. Only policy tenants, so the
	// series stay bounded.
	byCredential selfmetrics.Series[string, [reasonCount]signalCounts]
}

func (c *counters) accepted(tenant string) *signalCounts { return c.perTenant.Get(tenant) }

func (p *tenantProcessor) count(v *policyView, e *tenantEntry, r reason, req requestIdentity, s signal, n int) {
	if n == 0 {
		return
	}
	if r != reasonNone {
		p.counters.quarantined[r][s].Add(int64(n))
		// Only a policy tenant gets a series: a trusted receiver's word
		// (a Kafka topic, a record key) can name any id, and each would
		// be a series kept for the processor's life.
		if _, ok := v.entries[req.verified]; ok {
			p.counters.byCredential.Get(req.verified)[r][s].Add(int64(n))
		}
		return
	}
	e.counts[s].Add(int64(n))
}

// register reads the counters from the observable counters of metadata.yaml.
func (c *counters) register(tb *metadata.TelemetryBuilder) error {
	err := tb.RegisterTenantRecordsAcceptedCallback(func(_ context.Context, o metric.Int64Observer) error {
		c.perTenant.Range(func(tenant string, sc *signalCounts) {
			for s := range signalCount {
				selfmetrics.ObserveNonZero(o, &sc[s], attribute.String("tenant", tenant), attribute.String("signal", signalNames[s]))
			}
		})
		return nil
	})
	if err != nil {
		return err
	}
	err = tb.RegisterTenantRecordsQuarantinedCallback(func(_ context.Context, o metric.Int64Observer) error {
		for r := reasonNone + 1; r < reasonCount; r++ {
			for s := range signalCount {
				selfmetrics.ObserveNonZero(o, &c.quarantined[r][s], attribute.String("reason", r.String()), attribute.String("signal", signalNames[s]))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tb.RegisterTenantRecordsQuarantinedByCredentialCallback(func(_ context.Context, o metric.Int64Observer) error {
		c.byCredential.Range(func(tenant string, rc *[reasonCount]signalCounts) {
			for r := reasonNone + 1; r < reasonCount; r++ {
				for s := range signalCount {
					selfmetrics.ObserveNonZero(o, &rc[r][s], attribute.String("tenant", tenant), attribute.String("reason", r.String()), attribute.String("signal", signalNames[s]))
				}
			}
		})
		return nil
	})
}
