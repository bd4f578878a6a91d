package dashboards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// fleetMetrics carry no tenant label by design (nothing is attributed to a
// tenant there); only the Fleet row may query them.
var fleetMetrics = map[string]bool{
	"otelcol_tenant_records_quarantined": true,
	"otelcol_tenantpolicy_auth_refused":  true,
}

func load(t *testing.T) Dashboard {
	t.Helper()
	d, err := Load("tenant.json")
	require.NoError(t, err)
	return d
}

func TestTenantDashboardShape(t *testing.T) {
	d := load(t)
	assert.Equal(t, "tenancy-tenant", d.UID)
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	assert.Equal(t, map[string]string{"datasource": "datasource", "tenant": "query"}, vars)
	targets := 0
	for _, p := range d.Panels {
		if p.IsRow() {
			assert.Empty(t, p.Targets, p.Title)
			continue
		}
		assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		targets += len(p.Targets)
	}
	assert.GreaterOrEqual(t, targets, 10)
}

// Every query parses, and every one above the Fleet row selects only the
// chosen tenant's series: each of its selectors has the matcher
// tenant="$tenant". A panel that forgot it would show every tenant's data
// to whoever looks at one tenant.
func TestTenantDashboardQueriesStayInTheTenant(t *testing.T) {
	d := load(t)
	fleet := false
	for _, p := range d.Panels {
		if p.IsRow() {
			fleet = p.IsFleetRow()
			continue
		}
		for _, tg := range p.Targets {
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(Expand(tg.Expr, "acme"))
			require.NoError(t, err, "%s: %s", p.Title, tg.Expr)
			selectors := 0
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				selectors++
				if fleet {
					assert.True(t, fleetMetrics[vs.Name], "%s: fleet panels query only metrics without tenants, found %s", p.Title, vs.Name)
					return nil
				}
				assert.False(t, fleetMetrics[vs.Name], "%s: %s has no tenant label", p.Title, vs.Name)
				found := false
				for _, m := range vs.LabelMatchers {
					if m.Name == "tenant" {
						assert.Equal(t, labels.MatchEqual, m.Type, "%s: tenant must be matched exactly", p.Title)
						assert.Equal(t, "acme", m.Value, p.Title)
						found = true
					}
				}
				assert.True(t, found, "%s: selector %s lacks tenant=\"$tenant\"", p.Title, vs)
				return nil
			})
			assert.Positive(t, selectors, p.Title)
		}
	}
}

func TestFleetDashboardShape(t *testing.T) {
	d, err := Load("fleet.json")
	require.NoError(t, err)
	assert.Equal(t, FleetUID, d.UID)
	require.Len(t, d.Templating.List, 1, "the fleet view picks no tenant")
	assert.Equal(t, "datasource", d.Templating.List[0].Name)
	for _, p := range d.Panels {
		if !p.IsRow() {
			assert.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		}
	}
}

// No fleet panel shows a tenant's data: every query is an aggregation
// (sum, count, topk, max...) of self-metrics, or arithmetic of them, so a
// panel can show a count per tenant but never a raw series, and none
// names a tenant.
func TestFleetDashboardShowsOnlyCounts(t *testing.T) {
	d, err := Load("fleet.json")
	require.NoError(t, err)
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			assert.NotContains(t, tg.Expr, "$tenant", p.Title)
			expr, err := parser.NewParser(parser.Options{}).ParseExpr(Expand(tg.Expr, ""))
			require.NoError(t, err, "%s: %s", p.Title, tg.Expr)
			assert.True(t, onlyAggregates(expr), "%s: %s is not an aggregation", p.Title, tg.Expr)
			parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok {
					assert.True(t, strings.HasPrefix(vs.Name, "otelcol_"), "%s: %s is not a collector self-metric", p.Title, vs.Name)
					for _, m := range vs.LabelMatchers {
						assert.NotEqual(t, "tenant", m.Name, "%s selects a tenant", p.Title)
					}
				}
				return nil
			})
		}
	}
	assert.GreaterOrEqual(t, queries, 15)
}

// onlyAggregates reports whether every path from the root of e to a
// selector passes through an aggregation.
func onlyAggregates(e parser.Expr) bool {
	switch n := e.(type) {
	case *parser.AggregateExpr:
		return true
	case *parser.BinaryExpr:
		return onlyAggregates(n.LHS) && onlyAggregates(n.RHS)
	case *parser.ParenExpr:
		return onlyAggregates(n.Expr)
	case *parser.NumberLiteral:
		return true
	}
	return false
}

// Every self-metric some component declares in its metadata.yaml is on a
// dashboard, so a new metric cannot be forgotten; the exceptions say why.
func TestEveryMetricIsOnADashboard(t *testing.T) {
	notShown := map[string]string{
		"otelcol_tenantpolicy_tenants": "the fleet counts the tenant info series, which also carry tier and region",
		// Issue 15's Kafka receiver runs in no pipeline of the e2e dashboard
		// test, where every panel must show data; its panels come with a
		// Kafka load there.
		"otelcol_tenantkafka_records": "Kafka receiver: not in the dashboard e2e pipeline yet",
		"otelcol_tenantkafka_dropped": "Kafka receiver: not in the dashboard e2e pipeline yet",
	}
	used := map[string]bool{}
	for _, name := range []string{"tenant.json", "fleet.json"} {
		d, err := Load(name)
		require.NoError(t, err)
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				expr, err := parser.NewParser(parser.Options{}).ParseExpr(Expand(tg.Expr, "acme"))
				require.NoError(t, err)
				parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						used[vs.Name] = true
					}
					return nil
				})
			}
		}
	}
	files, err := filepath.Glob("../*/*/metadata.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	declared := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var md struct {
			Telemetry struct {
				Metrics map[string]any `yaml:"metrics"`
			} `yaml:"telemetry"`
		}
		require.NoError(t, yaml.Unmarshal(b, &md), f)
		for m := range md.Telemetry.Metrics {
			declared++
			name := "otelcol_" + m
			if _, ok := notShown[name]; ok {
				continue
			}
			assert.True(t, used[name], "%s (%s) is on no dashboard", name, f)
		}
	}
	assert.Greater(t, declared, 20)
}

// The provisioning folder gives Grafana a Prometheus data source and loads
// the directory the README mounts this one at: every dashboard file here.
func TestProvisioning(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Type, URL string
			IsDefault bool `yaml:"isDefault"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile("provisioning/datasources/prometheus.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &ds))
	assert.Equal(t, 1, ds.APIVersion)
	require.Len(t, ds.Datasources, 1)
	assert.Equal(t, "prometheus", ds.Datasources[0].Type, "the dashboards' datasource variable lists Prometheus data sources")
	assert.True(t, ds.Datasources[0].IsDefault)

	var dp struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Type    string
			Options struct {
				Path string
			}
		} `yaml:"providers"`
	}
	b, err = os.ReadFile("provisioning/dashboards/tenancy.yaml")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &dp))
	require.Len(t, dp.Providers, 1)
	assert.Equal(t, "file", dp.Providers[0].Type)
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	assert.Contains(t, string(readme), "dashboards:"+dp.Providers[0].Options.Path, "the README mounts dashboards/ where the provider reads")

	files, err := Generate()
	require.NoError(t, err)
	var want []string
	for name := range files {
		if strings.HasSuffix(name, ".json") {
			want = append(want, name)
		}
	}
	got, err := filepath.Glob("*.json")
	require.NoError(t, err)
	assert.ElementsMatch(t, want, got, "Grafana loads every JSON file of the mounted directory")
}
