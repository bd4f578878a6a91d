package dashboards

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// The generated rules load in Prometheus (promtool check rules) and pass
// alerts_test.yaml (promtool test rules): each rule fires for the tenant
// that misbehaves and not for a quiet one. promtool comes with Debian's
// prometheus package; without it this test fails, it does not skip.
func TestAlertRules(t *testing.T) {
	promtool := peertest.Binary(t, "TENANCY_PROMTOOL", "promtool")
	for _, args := range [][]string{{"check", "rules", "alerts.yaml"}, {"test", "rules", "alerts_test.yaml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %v:\n%s", args, out)
	}
}

// Every rule names its subject in a label the summary uses and links a
// dashboard; every rule has a firing case in alerts_test.yaml.
func TestAlertRulesNameTheirSubject(t *testing.T) {
	groups := Alerts()
	tested, err := promtoolAlertNames("alerts_test.yaml")
	require.NoError(t, err)
	rules := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			rules++
			assert.Contains(t, r.Annotations["dashboard"], GrafanaURL+"/d/", r.Alert)
			if g.Name == "tenancy-tenant" {
				assert.Contains(t, r.Annotations["summary"], "{{ $labels.tenant }}", r.Alert)
				assert.Contains(t, r.Annotations["dashboard"], "var-tenant={{ $labels.tenant }}", r.Alert)
			}
			assert.GreaterOrEqual(t, tested[r.Alert], 2, "%s needs a firing and a quiet case in alerts_test.yaml", r.Alert)
		}
	}
	assert.Equal(t, 7, rules)
}

// promtoolAlertNames counts the alert_rule_test cases of each alert name
// in a promtool test file.
func promtoolAlertNames(path string) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			n[a.Alertname]++
		}
	}
	return n, nil
}
