package tenantanomalyconnector

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const (
	attrServiceName = "service.name"
	// attrRedactionClasses is what the tenantredact processor stamps on
	// each record (log record, span, data point) it changed. It also
	// stamps the resource of such records, and of a change to the
	// resource's own attributes, with its counts: a record is counted by
	// its own stamp, not by its resource's.
	attrRedactionClasses = identity.AttrRedactionClasses
)

var (
	logsSizer    plog.ProtoMarshaler
	metricsSizer pmetric.ProtoMarshaler
	tracesSizer  ptrace.ProtoMarshaler
)

// reasonSpoofed is the tenant processor's quarantine reason for a resource
// whose tenant.id contradicted its sender's identity.
const reasonSpoofed = "spoofed"

// owner finds the series a resource counts for: its tenant, or for a
// quarantined resource its verified sender, else the policy tenant it
// claimed unless the claim was a spoof. Pipeline tenants, unknown tenants
// and tenants with anomaly detection off count for nobody.
//
// spoof reports a quarantined resource that named another tenant than its
// verified sender: a spoof attempt by the owner.
func (v *view) owner(attrs pcommon.Map) (e viewEntry, quarantined, spoof, ok bool) {
	id, reason := identity.TenantOf(attrs)
	if reason != "" {
		return viewEntry{}, false, false, false
	}
	if id == policy.Quarantine {
		// A quarantined resource counts for whoever sent it: the verified
		// sender when there is one, so a tenant cannot raise another's
		// anomaly alerts (or stamp scores on its data) by spoofing its id;
		// the claim only where no credential proved anyone. A spoof without a
		// verified sender (one made over a trusted header) counts for nobody:
		// its claim contradicted the sender, so it is no evidence about the
		// claimed tenant, and counting it there would let any header sender
		// raise that tenant's alerts.
		r, hasReason := attrs.Get(identity.AttrQuarantineReason)
		spoofed := hasReason && r.Type() == pcommon.ValueTypeStr && r.Str() == reasonSpoofed
		who, found := attrs.Get(identity.AttrAuthenticated)
		if !found {
			if spoofed {
				return viewEntry{}, false, false, false
			}
			who, found = attrs.Get(identity.AttrClaimed)
		}
		if !found || who.Type() != pcommon.ValueTypeStr {
			return viewEntry{}, false, false, false
		}
		e, ok = v.tenants[who.Str()]
		return e, true, spoofed, ok
	}
	e, ok = v.tenants[id]
	return e, false, false, ok
}

// quarantine counts n quarantined records of the tenant's signal s, and
// the resource as a spoof attempt of the tenant's when it was one.
func (t *tenantSeries) quarantine(s signal, n int, spoof bool) {
	t.mu.Lock()
	t.signal(s).acc.quarantined += int64(n)
	t.access.countSpoof(spoof)
	t.mu.Unlock()
}

// redacted reports whether the tenantredact processor changed the record
// whose attributes are attrs.
func redacted(attrs pcommon.Map) bool {
	_, ok := identity.RedactionClasses(attrs)
	return ok
}

func serviceName(attrs pcommon.Map) (string, bool) {
	v, ok := attrs.Get(attrServiceName)
	if !ok || v.Type() != pcommon.ValueTypeStr {
		return "", false
	}
	return v.Str(), true
}

// consumeLogs adds the batch to its tenants' open intervals.
func (m *monitor) consumeLogs(ld plog.Logs) {
	v := m.currentView()
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		attrs := rl.Resource().Attributes()
		e, quarantined, spoof, ok := v.owner(attrs)
		if !ok {
			continue
		}
		m.claim(e, signalLogs)
		t := e.series
		if quarantined {
			t.quarantine(signalLogs, pdatacount.LogRecords(rl), spoof)
			continue
		}
		var records, errs, changed int64
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			lrs := rl.ScopeLogs().At(j).LogRecords()
			records += int64(lrs.Len())
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if lr.SeverityNumber() >= plog.SeverityNumberError {
					errs++
				}
				if redacted(lr.Attributes()) {
					changed++
				}
			}
		}
		size := int64(logsSizer.ResourceLogsSize(rl))
		svc, hasSvc := serviceName(attrs)
		t.mu.Lock()
		a := &t.signal(signalLogs).acc
		a.records += records
		a.errors += errs
		a.redacted += changed
		a.bytes += size
		if hasSvc {
			a.addService(svc)
		}
		t.mu.Unlock()
	}
}

// consumeTraces adds the batch to its tenants' open intervals.
func (m *monitor) consumeTraces(td ptrace.Traces) {
	v := m.currentView()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		attrs := rs.Resource().Attributes()
		e, quarantined, spoof, ok := v.owner(attrs)
		if !ok {
			continue
		}
		m.claim(e, signalTraces)
		t := e.series
		if quarantined {
			t.quarantine(signalTraces, pdatacount.Spans(rs), spoof)
			continue
		}
		size := int64(tracesSizer.ResourceSpansSize(rs))
		svc, hasSvc := serviceName(attrs)
		// Durations go straight into the sketch, so the lock covers the
		// resource's span loop.
		t.mu.Lock()
		a := &t.signal(signalTraces).acc
		// The service's own series (services.go), when max_services asks.
		var perSvc *serviceSeries
		if m.cfg.MaxServices > 0 && hasSvc {
			perSvc = a.service(svc, m.cfg)
		}
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			a.records += int64(spans.Len())
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				isErr := sp.Status().Code() == ptrace.StatusCodeError
				if isErr {
					a.errors++
				}
				if redacted(sp.Attributes()) {
					a.redacted++
				}
				// An end before the start is a client bug; count it as 0.
				var ms float64
				if start, end := sp.StartTimestamp(), sp.EndTimestamp(); end > start {
					ms = float64(end-start) / 1e6
				}
				a.addLatency(ms)
				if perSvc != nil {
					perSvc.addSpan(isErr, ms)
				}
			}
		}
		if perSvc == nil && m.cfg.MaxServices > 0 && hasSvc {
			a.perService.overflow += int64(pdatacount.Spans(rs))
		}
		a.bytes += size
		if hasSvc {
			a.addService(svc)
		}
		t.mu.Unlock()
	}
}

// consumeMetrics adds the batch to its tenants' open intervals.
func (m *monitor) consumeMetrics(md pmetric.Metrics) {
	v := m.currentView()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		e, quarantined, spoof, ok := v.owner(attrs)
		if !ok {
			continue
		}
		m.claim(e, signalMetrics)
		t := e.series
		if quarantined {
			t.quarantine(signalMetrics, pdatacount.DataPoints(rm), spoof)
			continue
		}
		points, changed := dataPoints(rm)
		size := int64(metricsSizer.ResourceMetricsSize(rm))
		svc, hasSvc := serviceName(attrs)
		t.mu.Lock()
		a := &t.signal(signalMetrics).acc
		a.records += points
		a.redacted += changed
		a.bytes += size
		if hasSvc {
			a.addService(svc)
		}
		if len(m.cfg.Metrics) > 0 {
			a.addMetricValues(rm, m.cfg)
		}
		t.mu.Unlock()
	}
}

// dataPoints counts a resource's data points and those the tenantredact
// processor changed.
func dataPoints(rm pmetric.ResourceMetrics) (points, changed int64) {
	count := func(n int, attrs func(int) pcommon.Map) {
		points += int64(n)
		for i := 0; i < n; i++ {
			if redacted(attrs(i)) {
				changed++
			}
		}
	}
	for j := 0; j < rm.ScopeMetrics().Len(); j++ {
		ms := rm.ScopeMetrics().At(j).Metrics()
		for k := 0; k < ms.Len(); k++ {
			m := ms.At(k)
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				dps := m.Gauge().DataPoints()
				count(dps.Len(), func(i int) pcommon.Map { return dps.At(i).Attributes() })
			case pmetric.MetricTypeSum:
				dps := m.Sum().DataPoints()
				count(dps.Len(), func(i int) pcommon.Map { return dps.At(i).Attributes() })
			case pmetric.MetricTypeHistogram:
				dps := m.Histogram().DataPoints()
				count(dps.Len(), func(i int) pcommon.Map { return dps.At(i).Attributes() })
			case pmetric.MetricTypeExponentialHistogram:
				dps := m.ExponentialHistogram().DataPoints()
				count(dps.Len(), func(i int) pcommon.Map { return dps.At(i).Attributes() })
			case pmetric.MetricTypeSummary:
				dps := m.Summary().DataPoints()
				count(dps.Len(), func(i int) pcommon.Map { return dps.At(i).Attributes() })
			}
		}
	}
	return points, changed
}
