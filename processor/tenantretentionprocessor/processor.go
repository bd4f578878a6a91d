package tenantretentionprocessor

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor/internal/metadata"
)

// Attributes this processor writes.
const (
	// AttrRetention (resource) is the tenant's retention for the signal, in
	// the policy's syntax ("30d", "36h0m0s"): what backends keep it for.
	AttrRetention = identity.AttrRetention
	// AttrResidency (resource) is the region the tenant's data must stay in.
	AttrResidency = identity.AttrResidency
	// AttrResidencyViolation (resource, flag mode) names the region the data
	// was seen in against the tenant's residency.
	AttrResidencyViolation = identity.AttrResidencyViolation
	// AttrExpired (record, flag mode) marks a record older than the
	// tenant's retention. Only this processor sets it: a client's copy is
	// removed.
	AttrExpired = identity.AttrRetentionExpired
	// AttrOriginalTime (record) is the timestamp a record came with when
	// it lay further in the future than its tenant's max_future_skew, in
	// RFC 3339; its timestamps were moved back to its ingestion.
	AttrOriginalTime = identity.AttrRetentionOriginal
)

// Reasons in the self-metrics.
const (
	reasonExpired   = "expired"
	reasonResidency = "residency"
	// reasonFutureSkew: kept, aged from its ingestion (flagged).
	reasonFutureSkew = "future_skew"
)

type retentionProcessor struct {
	logger   *zap.Logger
	tel      *metadata.TelemetryBuilder
	cfg      *Config
	provider policy.Provider
	now      func() time.Time
}

func newRetentionProcessor(cfg *Config, set processor.Settings, now func() time.Time) (*retentionProcessor, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &retentionProcessor{logger: set.Logger, tel: tel, cfg: cfg, now: now}, nil
}

func (p *retentionProcessor) start(_ context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, p.cfg.Policy)
	if err != nil {
		return err
	}
	p.provider = prov
	return nil
}

// verdict is what the policy says about one resource's data.
type verdict struct {
	// tenant labels the self-metrics: a declared tenant, _quarantine,
	// _governance or _none, so labels stay bounded by the policy.
	tenant    string
	retention time.Duration // 0: none
	residency string
	// outOfRegion: the tenant's residency is not this collector's region.
	outOfRegion bool
	// cutoff is the oldest timestamp still within retention (0: none).
	cutoff pcommon.Timestamp
	// now is the ingestion time; latest is now plus the tenant's
	// max_future_skew, the latest timestamp taken as it is.
	now, latest pcommon.Timestamp
}

func (p *retentionProcessor) judge(pol *policy.Policy, res pcommon.Map, sig policy.Signal, now time.Time) verdict {
	// A repeated or missing tenant.id is no tenant: neither copy's
	// retention or residency applies, but the defaults'.
	id, reason := identity.TenantOf(res)
	t, declared := pol.Tenant(id)
	declared = declared && reason == ""
	label := id
	if !declared {
		// Undeclared, reserved or missing: the defaults' retention, and no
		// residency (the data belongs to no tenant's region).
		t, label = &pol.Defaults, "_none"
		if id == policy.Quarantine || id == policy.Governance {
			label = id
		}
	}
	v := verdict{tenant: label, retention: t.Retention[sig], now: pcommon.NewTimestampFromTime(now)}
	v.latest = v.now + pcommon.Timestamp(t.MaxFutureSkew)
	if v.latest < v.now { // the policy bounds the skew to ~292 years; a clock near 2554 could still wrap
		v.latest = math.MaxUint64
	}
	if declared {
		v.residency = t.Residency
		v.outOfRegion = p.cfg.Region != "" && t.Residency != "" && t.Residency != p.cfg.Region
	}
	// A retention reaching back before 1970 cuts nothing: timestamps are
	// unsigned nanoseconds since then.
	if c := now.Add(-v.retention); v.retention > 0 && c.After(time.Unix(0, 0)) {
		v.cutoff = pcommon.NewTimestampFromTime(c)
	}
	return v
}

// stamp writes the verdict on the resource, over anything that was there.
func (p *retentionProcessor) stamp(res pcommon.Map, v verdict) {
	if v.retention > 0 {
		res.PutStr(AttrRetention, retentionText(v.retention))
	} else {
		res.Remove(AttrRetention)
	}
	if v.residency != "" {
		res.PutStr(AttrResidency, v.residency)
	} else {
		res.Remove(AttrResidency)
	}
	if v.outOfRegion {
		res.PutStr(AttrResidencyViolation, p.cfg.Region)
	} else {
		res.Remove(AttrResidencyViolation)
	}
}

// retentionTexts caches formatRetention: a policy names few durations, and
// every resource of every batch is stamped with one.
var retentionTexts sync.Map // time.Duration -> string

func retentionText(d time.Duration) string {
	if s, ok := retentionTexts.Load(d); ok {
		return s.(string)
	}
	s := formatRetention(d)
	retentionTexts.Store(d, s)
	return s
}

// formatRetention writes whole days as the policy does ("30d").
func formatRetention(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// expired reports whether a record stamped ts is out of v's retention. A
// record without a timestamp is kept: its age is unknown.
func (v verdict) expired(ts pcommon.Timestamp) bool {
	return v.cutoff != 0 && ts != 0 && ts < v.cutoff
}

// back moves one of a record's timestamps back by shift, so a span or a
// data point keeps its duration; one that would still lie past the skew
// (or before 1970) becomes the ingestion time.
func (v verdict) back(ts, shift pcommon.Timestamp) pcommon.Timestamp {
	if shift == 0 || ts == 0 {
		return ts
	}
	if ts > shift {
		ts -= shift
	}
	if ts > v.latest {
		ts = v.now
	}
	return ts
}

// timestampText is ts in RFC 3339, past 2262 too (where time.Unix(0, n)
// would wrap).
func timestampText(ts pcommon.Timestamp) string {
	return time.Unix(int64(ts/1e9), int64(ts%1e9)).UTC().Format(time.RFC3339Nano)
}

type tallyKey struct {
	tenant, reason string
	dropped        bool // else flagged
}

// tally counts one batch's dropped and flagged records.
type tally map[tallyKey]int64

// record is the verdict on one record stamped ts: how far its timestamps
// move back (0: they stay), and whether it is dropped. Out of retention, it
// is dropped or flagged, and counted. Further in the future than the
// tenant's max_future_skew, its clock is wrong: it is aged from its
// ingestion instead (else a year-2200 timestamp would outlive every
// retention), keeps its original time in an attribute, and is counted.
func (p *retentionProcessor) record(t tally, v verdict, ts pcommon.Timestamp, attrs pcommon.Map) (shift pcommon.Timestamp, drop bool) {
	// A client's copies of these attributes are not ours; one pass over
	// the attributes removes both.
	attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return k == AttrExpired || k == AttrOriginalTime })
	if ts > v.latest {
		attrs.PutStr(AttrOriginalTime, timestampText(ts))
		t[tallyKey{v.tenant, reasonFutureSkew, false}]++
		return ts - v.now, false // aged from now: within any retention
	}
	if !v.expired(ts) {
		return 0, false
	}
	drop = p.cfg.Expired == ActionDrop
	if !drop {
		attrs.PutBool(AttrExpired, true)
	}
	t[tallyKey{v.tenant, reasonExpired, drop}]++
	return 0, drop
}

// misplaced handles a resource out of its tenant's region holding n
// records: true drops it.
func (p *retentionProcessor) misplaced(t tally, v verdict, n int) bool {
	drop := p.cfg.OutOfRegion == ActionDrop
	t[tallyKey{v.tenant, reasonResidency, drop}] += int64(n)
	return drop
}

func (p *retentionProcessor) report(ctx context.Context, signal string, t tally) {
	debug := p.logger.Core().Enabled(zap.DebugLevel)
	for k, n := range t {
		if n == 0 {
			continue
		}
		attrs := metric.WithAttributes(attribute.String("tenant", k.tenant), attribute.String("signal", signal), attribute.String("reason", k.reason))
		if !k.dropped {
			p.tel.TenantretentionRecordsFlagged.Add(ctx, n, attrs)
			continue
		}
		p.tel.TenantretentionRecordsDropped.Add(ctx, n, attrs)
		if debug {
			p.logger.Debug("records dropped", zap.String("tenant", k.tenant), zap.String("signal", signal), zap.String("reason", k.reason), zap.Int64("records", n))
		}
	}
}

func (p *retentionProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	pol, now := p.provider.Policy(), p.now()
	t := tally{}
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		v := p.judge(pol, rl.Resource().Attributes(), policy.SignalLogs, now)
		if v.outOfRegion && p.misplaced(t, v, pdatacount.LogRecords(rl)) {
			return true
		}
		p.stamp(rl.Resource().Attributes(), v)
		emptied := false
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			lrs := sl.LogRecords()
			n := lrs.Len()
			lrs.RemoveIf(func(lr plog.LogRecord) bool {
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				shift, drop := p.record(t, v, ts, lr.Attributes())
				if shift != 0 {
					// The observed time is the collector's own clock, usually
					// right: only one past the skew too becomes the ingestion.
					lr.SetTimestamp(v.back(lr.Timestamp(), shift))
					if lr.ObservedTimestamp() > v.latest {
						lr.SetObservedTimestamp(v.now)
					}
				}
				return drop
			})
			gone := n > 0 && lrs.Len() == 0
			emptied = emptied || gone
			return gone
		})
		return emptied && rl.ScopeLogs().Len() == 0
	})
	p.report(ctx, "logs", t)
	if ld.ResourceLogs().Len() == 0 {
		return ld, processorhelper.ErrSkipProcessingData
	}
	return ld, nil
}

func (p *retentionProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	pol, now := p.provider.Policy(), p.now()
	t := tally{}
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool {
		v := p.judge(pol, rs.Resource().Attributes(), policy.SignalTraces, now)
		if v.outOfRegion && p.misplaced(t, v, pdatacount.Spans(rs)) {
			return true
		}
		p.stamp(rs.Resource().Attributes(), v)
		emptied := false
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			spans := ss.Spans()
			n := spans.Len()
			spans.RemoveIf(func(sp ptrace.Span) bool {
				// A span is as old as its end.
				ts := sp.EndTimestamp()
				if ts == 0 {
					ts = sp.StartTimestamp()
				}
				shift, drop := p.record(t, v, ts, sp.Attributes())
				if shift != 0 {
					sp.SetStartTimestamp(v.back(sp.StartTimestamp(), shift))
					sp.SetEndTimestamp(v.back(sp.EndTimestamp(), shift))
					for _, ev := range sp.Events().All() {
						ev.SetTimestamp(v.back(ev.Timestamp(), shift))
					}
				}
				return drop
			})
			gone := n > 0 && spans.Len() == 0
			emptied = emptied || gone
			return gone
		})
		return emptied && rs.ScopeSpans().Len() == 0
	})
	p.report(ctx, "traces", t)
	if td.ResourceSpans().Len() == 0 {
		return td, processorhelper.ErrSkipProcessingData
	}
	return td, nil
}

func (p *retentionProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	pol, now := p.provider.Policy(), p.now()
	t := tally{}
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		v := p.judge(pol, rm.Resource().Attributes(), policy.SignalMetrics, now)
		if v.outOfRegion && p.misplaced(t, v, pdatacount.DataPoints(rm)) {
			return true
		}
		p.stamp(rm.Resource().Attributes(), v)
		emptied := false
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			ms := sm.Metrics()
			n := ms.Len()
			ms.RemoveIf(func(m pmetric.Metric) bool {
				return p.dataPoints(t, v, m)
			})
			gone := n > 0 && ms.Len() == 0
			emptied = emptied || gone
			return gone
		})
		return emptied && rm.ScopeMetrics().Len() == 0
	})
	p.report(ctx, "metrics", t)
	if md.ResourceMetrics().Len() == 0 {
		return md, processorhelper.ErrSkipProcessingData
	}
	return md, nil
}

// dataPoints applies v to m's data points and reports whether m lost its
// last one.
func (p *retentionProcessor) dataPoints(t tally, v verdict, m pmetric.Metric) bool {
	before := pdatacount.MetricDataPoints(m)
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		m.Gauge().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return p.dataPoint(t, v, dp) })
	case pmetric.MetricTypeSum:
		m.Sum().DataPoints().RemoveIf(func(dp pmetric.NumberDataPoint) bool { return p.dataPoint(t, v, dp) })
	case pmetric.MetricTypeHistogram:
		m.Histogram().DataPoints().RemoveIf(func(dp pmetric.HistogramDataPoint) bool { return p.dataPoint(t, v, dp) })
	case pmetric.MetricTypeExponentialHistogram:
		m.ExponentialHistogram().DataPoints().RemoveIf(func(dp pmetric.ExponentialHistogramDataPoint) bool { return p.dataPoint(t, v, dp) })
	case pmetric.MetricTypeSummary:
		m.Summary().DataPoints().RemoveIf(func(dp pmetric.SummaryDataPoint) bool { return p.dataPoint(t, v, dp) })
	}
	return before > 0 && pdatacount.MetricDataPoints(m) == 0
}

// point is what every data point type has.
type point interface {
	Timestamp() pcommon.Timestamp
	StartTimestamp() pcommon.Timestamp
	SetTimestamp(pcommon.Timestamp)
	SetStartTimestamp(pcommon.Timestamp)
	Attributes() pcommon.Map
}

// dataPoint is the verdict on one data point: true drops it.
func (p *retentionProcessor) dataPoint(t tally, v verdict, dp point) bool {
	shift, drop := p.record(t, v, dp.Timestamp(), dp.Attributes())
	if shift != 0 {
		dp.SetStartTimestamp(v.back(dp.StartTimestamp(), shift))
		dp.SetTimestamp(v.now)
	}
	return drop
}
