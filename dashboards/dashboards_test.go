package dashboards

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
