package policy

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Change is one tenant's difference between two policies.
type Change struct {
	Tenant string
	// Kind is "added", "removed" or "changed".
	Kind string
	// Keys are the policy keys whose effective value changed (Kind "changed").
	Keys []string
}

func (c Change) String() string {
	if c.Kind == "changed" {
		return fmt.Sprintf("~ %s: %s", c.Tenant, strings.Join(c.Keys, ", "))
	}
	sign := "+"
	if c.Kind == "removed" {
		sign = "-"
	}
	return fmt.Sprintf("%s %s", sign, c.Tenant)
}

// Diff lists the tenants added, removed and changed from old to new, sorted
// by tenant id. It compares effective values, so a change to the defaults
// block shows on every tenant it reaches.
func Diff(old, new *Policy) []Change {
	var out []Change
	for _, id := range old.ids {
		if _, ok := new.tenants[id]; !ok {
			out = append(out, Change{Tenant: id, Kind: "removed"})
		}
	}
	for _, id := range new.ids {
		o, ok := old.tenants[id]
		if !ok {
			out = append(out, Change{Tenant: id, Kind: "added"})
			continue
		}
		if keys := changedKeys(o, new.tenants[id]); len(keys) > 0 {
			out = append(out, Change{Tenant: id, Kind: "changed", Keys: keys})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out
}

func changedKeys(a, b *Tenant) []string {
	var keys []string
	check := func(name string, x, y any) {
		if !reflect.DeepEqual(x, y) {
			keys = append(keys, name)
		}
	}
	check("status", a.Status, b.Status)
	check("identifiers", a.Identifiers, b.Identifiers)
	check("api_keys", a.APIKeys, b.APIKeys)
	check("client_certs", a.ClientCerts, b.ClientCerts)
	check("redaction", a.Redaction, b.Redaction)
	check("retention", a.Retention, b.Retention)
	check("max_future_skew", a.MaxFutureSkew, b.MaxFutureSkew)
	check("residency", a.Residency, b.Residency)
	check("backends", a.Backends, b.Backends)
	check("backend_credentials", a.BackendCredentials, b.BackendCredentials)
	check("limits", a.Limits, b.Limits)
	check("anomaly", a.Anomaly, b.Anomaly)
	return keys
}
