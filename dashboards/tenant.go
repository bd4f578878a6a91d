package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// TenantUID is the per-tenant dashboard's uid; alerts link to it.
const TenantUID = "tenancy-tenant"

// Tenant is the SRE's per-tenant view: every panel above the Fleet row
// selects tenant="$tenant" and nothing else.
func Tenant() *dashboard.DashboardBuilder {
	l := newDashboard(TenantUID, "Tenancy / Tenant",
		`One tenant's traffic through a Tenancy collector fleet: ingest, redaction, retention, delivery and anomalies. Every panel above the Fleet row selects tenant="$tenant" and nothing else.`)
	l.b.WithVariable(variable("tenant", "Tenant", "otelcol_tenant_records_accepted"))

	l.row("Ingest: what $tenant sends")
	l.timeseries(12, "Records accepted", "Records the tenant processor attributed to $tenant, by signal (after authentication; quarantined records are never counted here).", "rps",
		query{`sum by (signal) (rate(otelcol_tenant_records_accepted{tenant="$tenant"}[$__rate_interval]))`, "{{signal}}"})
	l.timeseries(12, "Authenticated requests", "Requests the tenantpolicy authenticator verified as $tenant, by credential source.", "reqps",
		query{`sum by (source) (rate(otelcol_tenantpolicy_auth_accepted{tenant="$tenant"}[$__rate_interval]))`, "{{source}}"})
	l.timeseries(12, "Gateway records", "Records received by the tenantgateway receiver for $tenant, by protocol and signal.", "rps",
		query{`sum by (protocol, signal) (rate(otelcol_tenantgateway_records{tenant="$tenant"}[$__rate_interval]))`, "{{protocol}} {{signal}}"})
	l.timeseries(12, "Gateway refusals", "Requests of $tenant the gateway refused (rate limit 429, body or decompressed size 413, bad input 400), by reason.", "reqps",
		query{`sum by (reason) (rate(otelcol_tenantgateway_refused{tenant="$tenant"}[$__rate_interval]))`, "{{reason}}"})
	l.timeseries(12, "Gateway requests", "Requests of $tenant the gateway answered, by protocol and signal.", "reqps",
		query{`sum by (protocol, signal) (rate(otelcol_tenantgateway_requests{tenant="$tenant"}[$__rate_interval]))`, "{{protocol}} {{signal}}"})
	l.timeseries(12, "Gateway bytes", "Decompressed request bytes of $tenant the gateway accepted, by protocol and signal.", "Bps",
		query{`sum by (protocol, signal) (rate(otelcol_tenantgateway_bytes{tenant="$tenant"}[$__rate_interval]))`, "{{protocol}} {{signal}}"})
	l.timeseries(24, "Quarantined with $tenant's credentials", "Records sent to _quarantine although their request authenticated as $tenant, by reason: spoofed (a claim of another tenant) or suspended. A rise is a leaked key or a misconfigured sender.", "rps",
		query{`sum by (reason) (rate(otelcol_tenant_records_quarantined_by_credential{tenant="$tenant"}[$__rate_interval]))`, "{{reason}}"})

	l.row("Redaction: what was removed from $tenant's records")
	l.timeseries(12, "Redactions by class", "Values redacted in $tenant's records, by class (foreign_tenant = another tenant's identifier). Class names only, never values.", "short",
		query{`sum by (class) (rate(otelcol_tenantredact_redactions{tenant="$tenant"}[$__rate_interval]))`, "{{class}}"})
	l.timeseries(12, "Records changed by redaction", "Records of $tenant that carried at least one redaction, by signal.", "rps",
		query{`sum by (signal) (rate(otelcol_tenantredact_records{tenant="$tenant"}[$__rate_interval]))`, "{{signal}}"})

	l.row("Retention: $tenant's records outside its retention or residency")
	l.timeseries(24, "Records outside retention or residency", "Records of $tenant older than its retention for the signal (reason expired) or outside its residency (reason residency): dropped, or kept and flagged when the tenantretention processor is set to flag.", "rps",
		query{`sum by (signal, reason) (rate(otelcol_tenantretention_records_dropped{tenant="$tenant"}[$__rate_interval]))`, "dropped {{signal}} {{reason}}"},
		query{`sum by (signal, reason) (rate(otelcol_tenantretention_records_flagged{tenant="$tenant"}[$__rate_interval]))`, "flagged {{signal}} {{reason}}"})

	l.row("Delivery: $tenant's queues and backends")
	l.timeseries(12, "Records delivered", "Records the tenantrouter delivered for $tenant, by backend and signal.", "rps",
		query{`sum by (backend, signal) (rate(otelcol_tenantrouter_records_sent{tenant="$tenant"}[$__rate_interval]))`, "{{backend}} {{signal}}"})
	l.timeseries(12, "Records failed", "Records of $tenant not delivered, by backend and reason: permanent, retries_exhausted, queue_full, shutdown, unknown_backend, unsupported_signal, no_backend_tenant_id, residency, memory_limit, too_large, no_credential, storage, shredded.", "rps",
		query{`sum by (backend, reason) (rate(otelcol_tenantrouter_records_failed{tenant="$tenant"}[$__rate_interval]))`, "{{backend}} {{reason}}"})
	l.timeseries(12, "Queue depth", "Batches waiting in $tenant's own queue per backend; another tenant's queue never holds $tenant's data.", "short",
		query{`max by (backend) (otelcol_tenantrouter_queue_size{tenant="$tenant"})`, "{{backend}}"})
	l.timeseries(12, "Retries", "Delivery retries of $tenant's batches, by backend.", "short",
		query{`sum by (backend) (rate(otelcol_tenantrouter_retries{tenant="$tenant"}[$__rate_interval]))`, "{{backend}}"})
	l.timeseries(12, "Queue bytes", "Bytes (OTLP protobuf size) held in $tenant's own queue per backend, the batch in flight included.", "bytes",
		query{`max by (backend) (otelcol_tenantrouter_queue_bytes{tenant="$tenant"})`, "{{backend}}"})
	l.timeseries(12, "Metrics not translated", "Metrics of $tenant a remotewrite backend could not translate and left out while the rest of the batch was sent, by backend and reason.", "short",
		query{`sum by (backend, reason) (rate(otelcol_tenantrouter_metrics_untranslated{tenant="$tenant"}[$__rate_interval]))`, "{{backend}} {{reason}}"})

	l.row("Anomalies: $tenant against its own baseline")
	l.timeseries(24, "Anomaly score by feature", "Score in [0, 1] of each of $tenant's features in the last interval; the tenantanomaly connector emits an event above its threshold (default 0.5).", "percentunit",
		query{`max by (feature) (otelcol_tenantanomaly_score{tenant="$tenant"})`, "{{feature}}"})
	// Features have their own units (records, bytes, a ratio, ms), so one
	// log axis shows them all; the expected line of each is dashed.
	l.b.WithPanel(l.newTimeseries(24, "Anomalies: observed vs expected", "Each of $tenant's features in the last closed interval (solid) against what its own baseline expected for it (dashed): the anomaly.observed and anomaly.expected an anomaly event of the tenantanomaly connector carries. Log scale, since the features have their own units: records and bytes per interval, error ratio, services, latency in ms. A gap: the interval had nothing to measure (a latency without spans), or the feature has no baseline yet.", "short",
		query{`max by (feature) (otelcol_tenantanomaly_observed{tenant="$tenant"})`, "{{feature}} observed"},
		query{`max by (feature) (otelcol_tenantanomaly_expected{tenant="$tenant"})`, "{{feature}} expected"}).
		ScaleDistribution(common.NewScaleDistributionConfigBuilder().Type(common.ScaleDistributionLog).Log(10)).
		OverrideByRegexp(".* expected$", []dashboard.DynamicConfigValue{{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []float64{10, 10}}}}))

	l.row("Fleet (no tenant's data: counts without a tenant label)")
	l.timeseries(12, "Quarantined records", "Records sent to _quarantine, by reason: spoofed, unverified, missing, malformed, reserved, unknown, suspended. Not attributed to any tenant by design.", "rps",
		query{`sum by (reason) (rate(otelcol_tenant_records_quarantined[$__rate_interval]))`, "{{reason}}"})
	l.timeseries(12, "Refused credentials", "Requests the tenantpolicy authenticator refused, by reason (keys are never logged).", "reqps",
		query{`sum by (reason) (rate(otelcol_tenantpolicy_auth_refused[$__rate_interval]))`, "{{reason}}"})
	return l.b
}
