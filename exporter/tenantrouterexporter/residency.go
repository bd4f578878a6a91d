package tenantrouterexporter

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// conflictingResidency is the residency of data whose tenants must stay in
// different regions: no region is written like this, so no backend holds
// it, and it is refused (residency) rather than sent to either region.
const conflictingResidency = "!conflict"

// partKey is one routed part of a request: a tenant, and for the pipeline
// tenants the residency of the tenant their data is about.
type partKey struct{ tenant, residency string }

func pipelineTenant(id string) bool { return id == policy.Quarantine || id == policy.Governance }

// residencyOf is the residency a pipeline tenant's resource must keep: a
// quarantined resource's sender's (tenant.authenticated), or without one
// its claimed tenants'; a governance resource's subject's. "" for any
// other tenant (route reads the policy) and for data about no resident
// tenant.
func (r *router) residencyOf(pol *policy.Policy, tenant string, attrs pcommon.Map) string {
	switch tenant {
	case policy.Quarantine:
		if v, ok := attrs.Get(identity.AttrAuthenticated); ok && v.Str() != "" {
			return tenantResidency(pol, v.Str())
		}
		if v, ok := attrs.Get(identity.AttrClaimed); ok {
			return commonResidency(pol, strings.Split(v.Str(), ","))
		}
	case policy.Governance:
		if v, ok := attrs.Get(identity.AttrAnomalyTenant); ok {
			return tenantResidency(pol, v.Str())
		}
	}
	return ""
}

func tenantResidency(pol *policy.Policy, id string) string {
	if t, ok := pol.Tenant(id); ok {
		return t.Residency
	}
	return ""
}

// commonResidency is the one residency among tenants, "" when none has
// one, conflictingResidency when two differ.
func commonResidency(pol *policy.Policy, ids []string) string {
	res := ""
	for _, id := range ids {
		switch r := tenantResidency(pol, id); {
		case r == "" || r == res:
		case res == "":
			res = r
		default:
			return conflictingResidency
		}
	}
	return res
}

// splitGovernance splits, in place, each _governance resource of ld whose
// records are about tenants of different residencies (anomaly.tenant.id on
// the record, else on the resource) into one resource per residency, in
// the order they first appear, since one anomaly report covers many
// tenants. logsResidency then reads one residency off each resource.
func (r *router) splitGovernance(pol *policy.Policy, ld plog.Logs) {
	rls := ld.ResourceLogs()
	mixed := false
	for i := 0; i < rls.Len() && !mixed; i++ {
		mixed = len(r.recordResidencies(pol, rls.At(i))) > 1
	}
	if !mixed {
		return
	}
	all := plog.NewResourceLogsSlice()
	rls.MoveAndAppendTo(all)
	for i := 0; i < all.Len(); i++ {
		rl := all.At(i)
		order := r.recordResidencies(pol, rl)
		if len(order) <= 1 {
			rl.MoveTo(rls.AppendEmpty())
			continue
		}
		resRes := r.residencyOf(pol, policy.Governance, rl.Resource().Attributes())
		for _, res := range order {
			part := rls.AppendEmpty()
			rl.Resource().CopyTo(part.Resource())
			part.SetSchemaUrl(rl.SchemaUrl())
			for i := 0; i < rl.ScopeLogs().Len(); i++ {
				sl := rl.ScopeLogs().At(i)
				dst := part.ScopeLogs().AppendEmpty()
				sl.Scope().CopyTo(dst.Scope())
				dst.SetSchemaUrl(sl.SchemaUrl())
				for j := 0; j < sl.LogRecords().Len(); j++ {
					if lr := sl.LogRecords().At(j); recordResidency(pol, lr, resRes) == res {
						lr.CopyTo(dst.LogRecords().AppendEmpty())
					}
				}
			}
			part.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
		}
	}
}

// recordResidencies lists the residencies of the tenants a _governance
// resource's records are about, in first-seen order; nil for any other
// resource.
func (r *router) recordResidencies(pol *policy.Policy, rl plog.ResourceLogs) []string {
	if id, reason := identity.TenantOf(rl.Resource().Attributes()); reason != "" || id != policy.Governance {
		return nil
	}
	resRes := r.residencyOf(pol, policy.Governance, rl.Resource().Attributes())
	var order []string
	for i := 0; i < rl.ScopeLogs().Len(); i++ {
		lrs := rl.ScopeLogs().At(i).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			if res := recordResidency(pol, lrs.At(j), resRes); !slices.Contains(order, res) {
				order = append(order, res)
			}
		}
	}
	return order
}

// recordResidency is the residency of the tenant a _governance record is
// about, else its resource's (resRes).
func recordResidency(pol *policy.Policy, lr plog.LogRecord, resRes string) string {
	if v, ok := lr.Attributes().Get(identity.AttrAnomalyTenant); ok {
		return tenantResidency(pol, v.Str())
	}
	return resRes
}

// logsResidency is residencyOf for a resource's logs: a _governance
// resource's first record (splitGovernance left one residency per
// resource) says whose data it is.
func (r *router) logsResidency(pol *policy.Policy, tenant string, rl plog.ResourceLogs) string {
	res := r.residencyOf(pol, tenant, rl.Resource().Attributes())
	if tenant != policy.Governance {
		return res
	}
	for i := 0; i < rl.ScopeLogs().Len(); i++ {
		if lrs := rl.ScopeLogs().At(i).LogRecords(); lrs.Len() > 0 {
			return recordResidency(pol, lrs.At(0), res)
		}
	}
	return res
}
