package dashboards

import (
	"encoding/json"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Generate returns every file `make dashboards` writes, by name.
func Generate() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, b := range map[string]*dashboard.DashboardBuilder{"tenant.json": Tenant(), "fleet.json": Fleet()} {
		d, err := b.Build()
		if err != nil {
			return nil, err
		}
		j, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, err
		}
		out[name] = append(j, '\n')
	}
	alerts, err := alertsYAML()
	if err != nil {
		return nil, err
	}
	out["alerts.yaml"] = alerts
	return out, nil
}
