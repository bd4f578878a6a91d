package dashboards

import (
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// FleetUID is the fleet dashboard's uid.
const FleetUID = "tenancy-fleet"

// TenantInfo is the tenantpolicy extension's info series: 1 per declared
// tenant, with its tier and region. max by drops the collector's own
// labels, so one series per tenant remains however many collectors run.
const TenantInfo = `max by (tenant, tier, region) (otelcol_tenantpolicy_tenant_info)`

// perTenant sums rate(metric[$__rate_interval]) by tenant.
func perTenant(metric string) string {
	return `sum by (tenant) (rate(` + metric + `[$__rate_interval]))`
}

// byInfo groups a per-tenant expression by label (tier or region) of the
// tenant info series: the one join of the fleet dashboard and the alerts,
// so no self-metric has to carry a tier.
func byInfo(label, perTenantExpr string) string {
	return `sum by (` + label + `) (` + perTenantExpr + ` * on (tenant) group_left (` + label + `) ` +
		strings.Replace(TenantInfo, "tenant, tier, region", "tenant, "+label, 1) + `)`
}

// top ranks the ten tenants with the most of a per-tenant expression.
func top(perTenantExpr string) string {
	return `topk(10, ` + perTenantExpr + ` > 0)`
}

// deliverySLO is the delivery objective the error budget panel spends: the
// share of records a backend accepts.
const deliverySLO = "0.999"

// Fleet is leadership's view across tenants: counts, rankings and ratios,
// never a tenant's data values.
func Fleet() *dashboard.DashboardBuilder {
	l := newDashboard(FleetUID, "Tenancy / Fleet",
		`Every tenant of a Tenancy collector fleet at once, for leadership: how many tenants, by tier and region, who sends the most, who is redacted, refused or failing, the delivery error budget per tier and the collectors' health. Counts only: no panel shows a tenant's data.`)

	accepted := perTenant("otelcol_tenant_records_accepted")
	l.row("Tenants")
	l.stat(6, "Tenants declared", "Tenants the policy in force declares (the tenantpolicy extension's info series).", "short",
		query{`count(` + TenantInfo + `)`, "tenants"})
	l.stat(6, "Tenants sending", "Tenants with records accepted in the last rate interval.", "short",
		query{`count(` + accepted + ` > 0)`, "sending"})
	l.stat(6, "Records per second", "Records accepted across every tenant.", "rps",
		query{`sum(rate(otelcol_tenant_records_accepted[$__rate_interval]))`, "records/s"})
	l.stat(6, "Collectors", "Collectors whose own metrics Prometheus scrapes (otelcol_process_uptime).", "short",
		query{`count(otelcol_process_uptime)`, "collectors"})
	l.bars(12, "Tenants by tier", "Declared tenants per tier (policy key tier; none when unset).", "short",
		query{`count by (tier) (` + TenantInfo + `)`, "{{tier}}"})
	l.bars(12, "Tenants by region", "Declared tenants per region (policy key residency; any when unset).", "short",
		query{`count by (region) (` + TenantInfo + `)`, "{{region}}"})
	l.timeseries(12, "Ingest by tier", "Records accepted per second, summed by the tier of the sending tenant.", "rps",
		query{byInfo("tier", accepted), "{{tier}}"})
	l.timeseries(12, "Ingest by region", "Records accepted per second, summed by the region of the sending tenant.", "rps",
		query{byInfo("region", accepted), "{{region}}"})

	l.row("Top tenants")
	l.bars(8, "Top tenants by ingest", "The ten tenants with the most records accepted per second.", "rps",
		query{top(accepted), "{{tenant}}"})
	l.bars(8, "Top tenants by redactions", "The ten tenants with the most values redacted per second (counts of all classes).", "short",
		query{top(perTenant("otelcol_tenantredact_redactions")), "{{tenant}}"})
	l.bars(8, "Top tenants by quarantined records", "The ten tenants whose own credentials sent the most records to quarantine per second (a spoofed or suspended claim).", "rps",
		query{top(perTenant("otelcol_tenant_records_quarantined_by_credential")), "{{tenant}}"})
	l.bars(8, "Top tenants by delivery failures", "The ten tenants with the most records a backend refused or that could not be queued, per second.", "rps",
		query{top(perTenant("otelcol_tenantrouter_records_failed")), "{{tenant}}"})
	l.bars(8, "Top tenants by gateway refusals", "The ten tenants with the most requests the gateway refused (rate, size or bad input), per second.", "reqps",
		query{top(perTenant("otelcol_tenantgateway_refused")), "{{tenant}}"})
	l.bars(8, "Top tenants by anomaly score", "The ten tenants whose most anomalous feature scores highest now, in [0, 1]; the tenantanomaly connector raises an anomaly above its threshold (default 0.5).", "percentunit",
		query{`topk(10, max by (tenant) (otelcol_tenantanomaly_score))`, "{{tenant}}"})

	sent := perTenant("otelcol_tenantrouter_records_sent")
	failed := perTenant("otelcol_tenantrouter_records_failed")
	// A tenant with no failure has no failed series: or-ing the sent rate
	// times 0 keeps its tier in the ratio at 0 instead of dropping it.
	failedOrZero := `(` + failed + ` or ` + sent + ` * 0)`
	failureRatio := byInfo("tier", failedOrZero) + ` / (` + byInfo("tier", sent) + ` + ` + byInfo("tier", failedOrZero) + `)`
	l.row("Delivery by tier")
	l.timeseries(12, "Delivery failure ratio by tier", "Share of records not delivered (failed / (sent + failed)), by tier.", "percentunit",
		query{failureRatio, "{{tier}}"})
	l.timeseries(12, "Delivery error budget left by tier", "Share of the error budget of a "+deliverySLO+" delivery objective left at the current failure ratio: 1 is untouched, 0 or below is spent.", "percentunit",
		query{`1 - (` + failureRatio + `) / (1 - ` + deliverySLO + `)`, "{{tier}}"})

	l.row("Collectors")
	l.timeseries(12, "Policy reloads", "Policy file loads across the fleet, by result; a failure keeps the last good policy in force.", "short",
		query{`sum by (result) (increase(otelcol_tenantpolicy_reloads[$__rate_interval]))`, "{{result}}"})
	l.timeseries(12, "Quarantined records by reason", "Records sent to _quarantine, by reason, across the fleet.", "rps",
		query{`sum by (reason) (rate(otelcol_tenant_records_quarantined[$__rate_interval]))`, "{{reason}}"})
	l.timeseries(12, "Refused credentials", "Requests the tenantpolicy authenticator refused, by reason.", "reqps",
		query{`sum by (reason) (rate(otelcol_tenantpolicy_auth_refused[$__rate_interval]))`, "{{reason}}"})
	l.timeseries(12, "Queued bytes", "Bytes held in every tenant's router queues, summed across the fleet.", "bytes",
		query{`sum(otelcol_tenantrouter_queue_bytes)`, "queued"})
	return l.b
}
