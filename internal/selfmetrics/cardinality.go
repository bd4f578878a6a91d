package selfmetrics

import (
	"os"
	"strconv"
	"strings"
)

// CardinalityLimitEnv is what the OpenTelemetry Go SDK reads, when the
// collector builds its meter provider, for the most series one instrument
// keeps (go.opentelemetry.io/otel/sdk/metric); past it the SDK folds every
// further series into one labelled otel_metric_overflow="true", without a
// log line. The collector's telemetry configuration (otelconf v0.3.0 in
// core v0.165.0) has no setting for it, so the operator sets this.
const CardinalityLimitEnv = "OTEL_GO_X_CARDINALITY_LIMIT"

// DefaultCardinalityLimit is the SDK's cap when the variable is unset or
// not a number.
const DefaultCardinalityLimit = 2000

// CardinalityLimit is the cap this process's meter provider keeps, read as
// the SDK reads it: 0 when there is none (the variable zero or negative).
func CardinalityLimit() int {
	v := strings.TrimSpace(os.Getenv(CardinalityLimitEnv))
	if v == "" {
		return DefaultCardinalityLimit
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return DefaultCardinalityLimit
	case n <= 0:
		return 0
	}
	return n
}

// SeriesPerTenant is what the policy extension asks of the cap for each
// declared tenant (CardinalityLimit at least SeriesPerTenant × tenants).
// It is sized by the instrument with the most series an honest tenant
// makes: the anomaly connector's gauges hold one per feature of each
// signal the tenant sends, 19 for logs, metrics and traces (6 + 5 + 8,
// TestH28xSeriesPerTenantHoldsEveryAnomalyFeature); the redactions
// counter one per class found, up to the 20 built-in classes (more with
// the tenant's own rules); the gateway's counters one per protocol and
// signal, 8. The room left is for tenants added by a reload. (It was 10
// until hostile review h28x: a cap set as the warning said still folded
// about half the tenants of otelcol_tenantanomaly_score.)
const SeriesPerTenant = 25
