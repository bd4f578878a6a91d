// Package tenantsplit splits a batch by tenant, for the exporters that keep
// each tenant's data apart. It is the one place that decides which tenant a
// resource's data goes to: identity.Partition's tenant, or _quarantine with
// the reason for anything that belongs to no one.
package tenantsplit

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Tenant returns where a resource goes under pol: its tenant when the
// policy declares it active, a pipeline tenant (_quarantine, _governance)
// as it is, else _quarantine, the resource rewritten there with the reason
// (identity.Quarantine). Only ids that pass the tenant id rules come back,
// so the result is safe as a file or database name.
func Tenant(pol *policy.Policy, attrs pcommon.Map) string {
	id, reason := identity.Partition(pol, attrs)
	if reason == "" {
		return id
	}
	identity.Quarantine(attrs, reason)
	return policy.Quarantine
}

// Part is the share of a batch that goes to one key.
type Part[K comparable, B any] struct {
	Key  K
	Data B
}

// ByTenant keys a split by tenant alone.
func ByTenant[R any](tenant string, _ R) string { return tenant }

// Logs splits ld into one part per key, in the order keys first appear;
// key gets each resource's Tenant. ld must be the caller's to change (the
// consumer declares MutatesData): resources are moved into the parts, not
// copied, and when every resource has one key, ld itself is the one part.
func Logs[K comparable](pol *policy.Policy, ld plog.Logs, key func(tenant string, rl plog.ResourceLogs) K) []Part[K, plog.Logs] {
	return split(pol, ld, plog.Logs.ResourceLogs, plog.NewLogs, key)
}

// Metrics is Logs for metrics.
func Metrics[K comparable](pol *policy.Policy, md pmetric.Metrics, key func(tenant string, rm pmetric.ResourceMetrics) K) []Part[K, pmetric.Metrics] {
	return split(pol, md, pmetric.Metrics.ResourceMetrics, pmetric.NewMetrics, key)
}

// Traces is Logs for traces.
func Traces[K comparable](pol *policy.Policy, td ptrace.Traces, key func(tenant string, rs ptrace.ResourceSpans) K) []Part[K, ptrace.Traces] {
	return split(pol, td, ptrace.Traces.ResourceSpans, ptrace.NewTraces, key)
}

// resource is what the pdata resource types (ResourceLogs, ResourceMetrics,
// ResourceSpans) have in common here.
type resource[R any] interface {
	Resource() pcommon.Resource
	MoveTo(dest R)
}

// resources is what their slices have in common here.
type resources[R any] interface {
	Len() int
	At(i int) R
	AppendEmpty() R
}

func split[K comparable, B any, S resources[R], R resource[R]](pol *policy.Policy, batch B, of func(B) S, newBatch func() B, key func(string, R) K) []Part[K, B] {
	rs := of(batch)
	n := rs.Len()
	if n == 0 {
		return nil
	}
	keys := make([]K, n)
	one := true
	for i := range n {
		r := rs.At(i)
		keys[i] = key(Tenant(pol, r.Resource().Attributes()), r)
		one = one && keys[i] == keys[0]
	}
	// One tenant per request is the common case (the gateway authenticates
	// each request): the batch goes as it is.
	if one {
		return []Part[K, B]{{keys[0], batch}}
	}
	var parts []Part[K, B]
	index := make(map[K]int)
	for i, k := range keys {
		j, ok := index[k]
		if !ok {
			j = len(parts)
			index[k] = j
			parts = append(parts, Part[K, B]{k, newBatch()})
		}
		rs.At(i).MoveTo(of(parts[j].Data).AppendEmpty())
	}
	return parts
}
