package tenantrouterexporter

import (
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

// residentLogs is a resource's logs that share one residency.
type residentLogs struct {
	logs      plog.ResourceLogs
	residency string
}

// splitLogs splits a _governance resource by the residency of the tenant
// each record is about (anomaly.tenant.id on the record, else on the
// resource), since one anomaly report covers many tenants; any other
// resource is one part.
func (r *router) splitLogs(pol *policy.Policy, tenant string, rl plog.ResourceLogs) []residentLogs {
	resRes := r.residencyOf(pol, tenant, rl.Resource().Attributes())
	if tenant != policy.Governance {
		return []residentLogs{{rl, resRes}}
	}
	recordRes := func(lr plog.LogRecord) string {
		if v, ok := lr.Attributes().Get(identity.AttrAnomalyTenant); ok {
			return tenantResidency(pol, v.Str())
		}
		return resRes
	}
	var order []string
	seen := map[string]bool{}
	for i := 0; i < rl.ScopeLogs().Len(); i++ {
		lrs := rl.ScopeLogs().At(i).LogRecords()
		for j := 0; j < lrs.Len(); j++ {
			if res := recordRes(lrs.At(j)); !seen[res] {
				seen[res] = true
				order = append(order, res)
			}
		}
	}
	if len(order) <= 1 {
		res := resRes
		if len(order) == 1 {
			res = order[0]
		}
		return []residentLogs{{rl, res}}
	}
	out := make([]residentLogs, 0, len(order))
	for _, res := range order {
		part := plog.NewResourceLogs()
		rl.Resource().CopyTo(part.Resource())
		part.SetSchemaUrl(rl.SchemaUrl())
		for i := 0; i < rl.ScopeLogs().Len(); i++ {
			sl := rl.ScopeLogs().At(i)
			dst := part.ScopeLogs().AppendEmpty()
			sl.Scope().CopyTo(dst.Scope())
			dst.SetSchemaUrl(sl.SchemaUrl())
			for j := 0; j < sl.LogRecords().Len(); j++ {
				if lr := sl.LogRecords().At(j); recordRes(lr) == res {
					lr.CopyTo(dst.LogRecords().AppendEmpty())
				}
			}
		}
		part.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
		out = append(out, residentLogs{part, res})
	}
	return out
}
