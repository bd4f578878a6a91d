// Package dashboards holds the Grafana dashboards of a Tenancy fleet, read
// from the collectors' own metrics in Prometheus. tenant.json is the SRE's
// per-tenant view: pick a tenant and every panel above the Fleet row shows
// that tenant's series and no other's.
package dashboards

import "embed"

// FS holds the dashboard JSON files.
//
//go:embed *.json
var FS embed.FS
