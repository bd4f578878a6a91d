// Package dashboards holds the Grafana dashboards of a Tenancy fleet, read
// from the collectors' own metrics in Prometheus, and the alert rules that
// go with them, as Go code (grafana-foundation-sdk); `make dashboards`
// writes them into the committed tenant.json, fleet.json and alerts.yaml.
// tenant.json is the SRE's per-tenant view: pick a tenant and every panel
// above the Fleet row shows that tenant's series and no other's.
// fleet.json is leadership's view of every tenant at once, counts only.
package dashboards

import (
	"embed"
	"encoding/json"
	"strings"
)

// FS holds the dashboard JSON files.
//
//go:embed *.json
var FS embed.FS

// Dashboard is the part of Grafana's dashboard model the tests read.
type Dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
	Panels []Panel `json:"panels"`
}

// Panel is one panel; rows have no targets.
type Panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		Instant      bool   `json:"instant"`
	} `json:"targets"`
}

// IsRow reports whether p is a row header.
func (p Panel) IsRow() bool { return p.Type == "row" }

// IsFleetRow reports whether p is the row of counts that belong to no
// tenant; the panels below it may query metrics without a tenant label.
func (p Panel) IsFleetRow() bool { return p.IsRow() && strings.HasPrefix(p.Title, "Fleet") }

// Load reads the dashboard file name of FS.
func Load(name string) (Dashboard, error) {
	var d Dashboard
	b, err := FS.ReadFile(name)
	if err != nil {
		return d, err
	}
	err = json.Unmarshal(b, &d)
	return d, err
}

// Expand replaces Grafana's variables the way Grafana does before it sends
// a query to Prometheus (a one-minute rate interval).
func Expand(expr, tenant string) string {
	return strings.NewReplacer("$tenant", tenant, "$__rate_interval", "1m").Replace(expr)
}
