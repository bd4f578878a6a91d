package tenantprocessor

import (
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// Below the resource, only the pipeline writes the tenant.* namespace (the
// redactor's audit attributes): whatever a client put there, at any level
// and in any nested map, is removed here, so no later component can mistake
// it for the pipeline's word and the redactor never has to trust a key by
// its name. Bodies are the client's content, not attributes, and are left
// to the redactor, which scans every key in them.

func stripLogs(rl plog.ResourceLogs) {
	for _, sl := range rl.ScopeLogs().All() {
		identity.StripClientKeys(sl.Scope().Attributes())
		for _, lr := range sl.LogRecords().All() {
			identity.StripClientKeys(lr.Attributes())
		}
	}
}

func stripTraces(rs ptrace.ResourceSpans) {
	for _, ss := range rs.ScopeSpans().All() {
		identity.StripClientKeys(ss.Scope().Attributes())
		for _, sp := range ss.Spans().All() {
			identity.StripClientKeys(sp.Attributes())
			for _, ev := range sp.Events().All() {
				identity.StripClientKeys(ev.Attributes())
			}
			for _, l := range sp.Links().All() {
				identity.StripClientKeys(l.Attributes())
			}
		}
	}
}

func stripMetrics(rm pmetric.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics().All() {
		identity.StripClientKeys(sm.Scope().Attributes())
		for _, m := range sm.Metrics().All() {
			stripMetric(m)
		}
	}
}

func stripMetric(m pmetric.Metric) {
	identity.StripClientKeys(m.Metadata())
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			identity.StripClientKeys(dp.Attributes())
			stripExemplars(dp.Exemplars())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			identity.StripClientKeys(dp.Attributes())
			stripExemplars(dp.Exemplars())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			identity.StripClientKeys(dp.Attributes())
			stripExemplars(dp.Exemplars())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			identity.StripClientKeys(dp.Attributes())
			stripExemplars(dp.Exemplars())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			identity.StripClientKeys(dp.Attributes())
		}
	}
}

func stripExemplars(es pmetric.ExemplarSlice) {
	for _, ex := range es.All() {
		identity.StripClientKeys(ex.FilteredAttributes())
	}
}
