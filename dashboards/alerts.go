package dashboards

import (
	"bytes"

	"go.yaml.in/yaml/v3"

	"github.com/tenancyhq/tenancy/internal/selfmetrics"
)

// GrafanaURL is where the alerts' dashboard links point: the Grafana of
// dashboards/provisioning (README). Another Grafana changes it here and
// runs make dashboards.
const GrafanaURL = "http://localhost:3000"

// rule is one Prometheus alerting rule.
type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

// tenantLink is the per-tenant dashboard with the alert's tenant picked.
func tenantLink() string {
	return GrafanaURL + "/d/" + TenantUID + "/?var-tenant={{ $labels.tenant }}"
}

// tenantRule is an alert about one tenant: its expression keeps the tenant
// label, and its text names the tenant and links the tenant's dashboard.
func tenantRule(name, expr, forDur, severity, summary, description string) rule {
	return rule{
		Alert:  name,
		Expr:   expr,
		For:    forDur,
		Labels: map[string]string{"severity": severity},
		Annotations: map[string]string{
			"summary":     "Tenant {{ $labels.tenant }}: " + summary,
			"description": description,
			"dashboard":   tenantLink(),
		},
	}
}

// QueueSaturation is the queue depth, in batches, at which the router's
// queue counts as saturating: 80% of its default queue_size of 100.
const QueueSaturation = "80"

// Alerts are the rules that go with the dashboards, in Prometheus' rule
// file format.
func Alerts() []ruleGroup {
	sent := `sum by (tenant) (rate(otelcol_tenantrouter_records_sent[5m]))`
	failed := `sum by (tenant) (rate(otelcol_tenantrouter_records_failed[5m]))`
	redactionsNow := `sum by (tenant) (rate(otelcol_tenantredact_redactions[10m]))`
	redactionsBefore := `sum by (tenant) (rate(otelcol_tenantredact_redactions[1h] offset 10m))`
	return []ruleGroup{{
		Name: "tenancy-tenant",
		Rules: []rule{
			tenantRule("TenancyTenantDeliveryFailing",
				failed+` / (`+failed+` + (`+sent+` or `+failed+` * 0)) > 0.01`, "10m", "critical",
				"more than 1% of its records are not delivered",
				"{{ $value | humanizePercentage }} of tenant {{ $labels.tenant }}'s records failed delivery over 5 minutes; the Records failed panel gives the backend and reason.",
			),
			tenantRule("TenancyTenantQueueSaturating",
				`max by (tenant, backend) (otelcol_tenantrouter_queue_size) >= `+QueueSaturation+
					` or sum by (tenant, backend) (rate(otelcol_tenantrouter_records_failed{reason="queue_full"}[5m])) > 0`, "5m", "warning",
				"its queue to backend {{ $labels.backend }} is saturating",
				"Tenant {{ $labels.tenant }}'s queue to {{ $labels.backend }} holds "+QueueSaturation+" or more batches (of a default queue_size of 100), or refuses batches as full: the backend is slow or down, and records will be dropped.",
			),
			tenantRule("TenancyTenantQuarantineSpike",
				`sum by (tenant) (increase(otelcol_tenant_records_quarantined_by_credential{reason="spoofed"}[5m])) > 10`, "", "critical",
				"its credentials sent records claiming another tenant",
				"{{ $value }} records sent with tenant {{ $labels.tenant }}'s key or certificate claimed another tenant in 5 minutes and were quarantined: a leaked key or a misconfigured sender.",
			),
			tenantRule("TenancyTenantAnomaly",
				`max by (tenant, feature) (otelcol_tenantanomaly_score) > 0.5`, "2m", "warning",
				"{{ $labels.feature }} is anomalous",
				"Tenant {{ $labels.tenant }}'s {{ $labels.feature }} scored {{ $value }} against its own baseline for 2 minutes (the tenantanomaly connector's default threshold is 0.5).",
			),
			tenantRule("TenancyTenantRedactionRateJump",
				redactionsNow+` > 3 * `+redactionsBefore+` and `+redactionsNow+` > 0.1`, "5m", "warning",
				"redactions tripled",
				"Values redacted in tenant {{ $labels.tenant }}'s records per second over 10 minutes are more than 3 times the hour before: a new source of personal data or secrets, or another tenant's identifiers, in its telemetry.",
			),
		},
	}, {
		Name: "tenancy-collector",
		Rules: []rule{{
			// A reload is not a tenant's: the policy of every tenant on the
			// collector stays at its last good version, so the rule names
			// the collector and links the fleet dashboard.
			Alert:  "TenancyPolicyReloadFailing",
			Expr:   `sum by (instance) (increase(otelcol_tenantpolicy_reloads{result="failure"}[10m])) > 0`,
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "Collector {{ $labels.instance }}: the tenant policy does not load",
				"description": "The tenantpolicy extension on {{ $labels.instance }} refused or could not read the policy file in the last 10 minutes; every tenant's last good policy stays in force, so a tenant added or retiered since is not. The collector's log names the file, line and key.",
				"dashboard":   GrafanaURL + "/d/" + FleetUID + "/",
			},
		}, {
			// Past its cap on the series of one metric the SDK folds
			// further series into one otel_metric_overflow series, so the
			// dashboards and the rules above stop seeing some tenants.
			Alert: "TenancySelfMetricsOverflowing",
			Expr: `label_replace(count by (instance, __name__) ({__name__=~"otelcol_tenant.*", otel_metric_overflow="true"}),` +
				` "metric", "$1", "__name__", "(.+)")`,
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "Collector {{ $labels.instance }}: {{ $labels.metric }} lost tenants",
				"description": "The OpenTelemetry SDK on {{ $labels.instance }} folded some tenants' series of {{ $labels.metric }} into one otel_metric_overflow series: it keeps at most " + selfmetrics.CardinalityLimitEnv + " series per metric (2,000 unless set), and the per-tenant dashboard and alerts miss the tenants past it. Set " + selfmetrics.CardinalityLimitEnv + " in the collector's environment to the figure its log gives at start (25 series per tenant of the policy) and restart it.",
				"dashboard":   GrafanaURL + "/d/" + FleetUID + "/",
			},
		}},
	}}
}

// alertsYAML is the rule file dashboards/alerts.yaml.
func alertsYAML() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by make dashboards from dashboards/alerts.go; do not edit.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"groups": Alerts()}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}
