package tenantprocessor

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// Quarantine reasons, the values of tenant.quarantine.reason.
const (
	ReasonSpoofed    = "spoofed"    // a claim contradicts the verified identity
	ReasonUnverified = "unverified" // a claim alone, and claims are not allowed
	ReasonMissing    = "missing"    // no identity and no claim
	ReasonMalformed  = "malformed"  // the id breaks the tenant id rules
	ReasonReserved   = "reserved"   // the id names a pipeline tenant (_...)
	ReasonUnknown    = "unknown"    // the id is not in the policy
	ReasonSuspended  = "suspended"  // the tenant is suspended
)

// maxClaimedLength bounds what a client can make us store in tenant.claimed.
const maxClaimedLength = 256

// FingerprintBytes is the length of tenant.fingerprint before hex encoding.
const FingerprintBytes = 16

type tenantProcessor struct {
	cfg      *Config
	logger   *zap.Logger
	tel      *metadata.Telemetry
	secret   []byte
	provider policy.Provider

	// view caches the fingerprints of the policy in force, rebuilt when the
	// provider hands out a new policy, so the hot path does no HMAC.
	view atomic.Pointer[policyView]
}

type policyView struct {
	pol          *policy.Policy
	fingerprints map[string]string
}

func newTenantProcessor(cfg *Config, set processor.Settings) (*tenantProcessor, error) {
	tel, err := metadata.NewTelemetry(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &tenantProcessor{cfg: cfg, logger: set.Logger, tel: tel, secret: []byte(cfg.FingerprintSecret)}, nil
}

func (p *tenantProcessor) start(_ context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, p.cfg.Policy)
	if err != nil {
		return err
	}
	p.provider = prov
	return nil
}

// Fingerprint is the non-reversible tenant fingerprint of DESIGN.md: hex of
// HMAC-SHA256(secret, id) truncated to 16 bytes.
func Fingerprint(secret []byte, id string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:FingerprintBytes])
}

func (p *tenantProcessor) currentView() *policyView {
	pol := p.provider.Policy()
	if v := p.view.Load(); v != nil && v.pol == pol {
		return v
	}
	v := &policyView{pol: pol, fingerprints: make(map[string]string, pol.Len()+2)}
	for _, id := range append(pol.TenantIDs(), policy.Quarantine, policy.Governance) {
		v.fingerprints[id] = Fingerprint(p.secret, id)
	}
	p.view.Store(v)
	return v
}

// requestIdentity is what the request says about its tenant, read once per
// batch: the same for every resource in it.
type requestIdentity struct {
	verified string // from a key or certificate
	header   string // from a trusted proxy
}

func (p *tenantProcessor) readRequest(ctx context.Context) requestIdentity {
	var r requestIdentity
	if t, src, ok := identity.FromContext(ctx); ok {
		switch {
		case src.Verified():
			r.verified = t
		case src == identity.SourceTrustedHeader:
			r.header = t
		}
	}
	if r.header == "" && p.cfg.TrustedHeader != "" {
		if v := client.FromContext(ctx).Metadata.Get(p.cfg.TrustedHeader); len(v) > 0 {
			r.header = v[0]
		}
	}
	return r
}

// decision is the outcome for one resource.
type decision struct {
	tenant string // a policy tenant, or policy.Quarantine
	reason string // set when tenant is policy.Quarantine
}

// stamp decides the tenant of one resource and rewrites its tenant.*
// attributes. Everything a client wrote under tenant.* is dropped first:
// after this processor, those attributes are the pipeline's word only.
func (p *tenantProcessor) stamp(v *policyView, req requestIdentity, attrs pcommon.Map) decision {
	claim, hasClaim := "", false
	claimMalformed := false
	if val, ok := attrs.Get(identity.AttrTenantID); ok {
		hasClaim = true
		if val.Type() == pcommon.ValueTypeStr {
			claim = val.Str()
		} else {
			claim, claimMalformed = val.AsString(), true
		}
	}
	attrs.RemoveIf(func(k string, _ pcommon.Value) bool { return strings.HasPrefix(k, identity.AttrPrefix) })

	d, attempted := p.decide(v, req, claim, hasClaim, claimMalformed)
	if d.tenant == policy.Quarantine {
		attrs.PutStr(identity.AttrQuarantineReason, d.reason)
		if attempted != "" {
			attrs.PutStr(identity.AttrClaimed, truncate(attempted, maxClaimedLength))
		}
	}
	attrs.PutStr(identity.AttrTenantID, d.tenant)
	attrs.PutStr(identity.AttrFingerprint, v.fingerprints[d.tenant])
	return d
}

// decide applies the resolution order of DESIGN.md: verified identity, then
// trusted header, then the resource's claim. It returns the id that was
// tried, for tenant.claimed when the resource is quarantined.
func (p *tenantProcessor) decide(v *policyView, req requestIdentity, claim string, hasClaim, claimMalformed bool) (decision, string) {
	var id string
	switch {
	case req.verified != "" || req.header != "":
		id = req.verified
		if id == "" {
			id = req.header
		}
		if hasClaim && claim != id {
			return decision{policy.Quarantine, ReasonSpoofed}, claim
		}
	case hasClaim:
		if claimMalformed {
			return decision{policy.Quarantine, ReasonMalformed}, claim
		}
		if !p.cfg.AllowUnverifiedClaims {
			return decision{policy.Quarantine, ReasonUnverified}, claim
		}
		id = claim
	default:
		return decision{policy.Quarantine, ReasonMissing}, ""
	}
	if policy.ValidateTenantID(id) != nil {
		return decision{policy.Quarantine, ReasonMalformed}, id
	}
	if policy.IsReserved(id) {
		return decision{policy.Quarantine, ReasonReserved}, id
	}
	t, ok := v.pol.Tenant(id)
	if !ok {
		return decision{policy.Quarantine, ReasonUnknown}, id
	}
	if !t.Active() {
		return decision{policy.Quarantine, ReasonSuspended}, id
	}
	return decision{tenant: id}, ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// tally counts records per decision within one batch, so self-metrics cost
// one Add per distinct outcome rather than one per resource.
type tally struct {
	signal string
	counts map[decision]int64
}

func (t *tally) add(d decision, n int) {
	if n == 0 {
		return
	}
	if t.counts == nil {
		t.counts = map[decision]int64{}
	}
	t.counts[d] += int64(n)
}

func (p *tenantProcessor) record(ctx context.Context, t *tally) {
	sig := attribute.String("signal", t.signal)
	for d, n := range t.counts {
		if d.tenant == policy.Quarantine {
			p.tel.RecordsQuarantined.Add(ctx, n, metric.WithAttributes(attribute.String("reason", d.reason), sig))
		} else {
			p.tel.RecordsAccepted.Add(ctx, n, metric.WithAttributes(attribute.String("tenant", d.tenant), sig))
		}
	}
}

func (p *tenantProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	t := tally{signal: "logs"}
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		d := p.stamp(v, req, rl.Resource().Attributes())
		n := 0
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			n += rl.ScopeLogs().At(j).LogRecords().Len()
		}
		t.add(d, n)
	}
	p.record(ctx, &t)
	return ld, nil
}

func (p *tenantProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	t := tally{signal: "metrics"}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		d := p.stamp(v, req, rm.Resource().Attributes())
		t.add(d, dataPointCount(rm))
	}
	p.record(ctx, &t)
	return md, nil
}

func (p *tenantProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	t := tally{signal: "traces"}
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		d := p.stamp(v, req, rs.Resource().Attributes())
		n := 0
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			n += rs.ScopeSpans().At(j).Spans().Len()
		}
		t.add(d, n)
	}
	p.record(ctx, &t)
	return td, nil
}

func dataPointCount(rm pmetric.ResourceMetrics) int {
	n := 0
	for j := 0; j < rm.ScopeMetrics().Len(); j++ {
		ms := rm.ScopeMetrics().At(j).Metrics()
		for k := 0; k < ms.Len(); k++ {
			m := ms.At(k)
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				n += m.Gauge().DataPoints().Len()
			case pmetric.MetricTypeSum:
				n += m.Sum().DataPoints().Len()
			case pmetric.MetricTypeHistogram:
				n += m.Histogram().DataPoints().Len()
			case pmetric.MetricTypeExponentialHistogram:
				n += m.ExponentialHistogram().DataPoints().Len()
			case pmetric.MetricTypeSummary:
				n += m.Summary().DataPoints().Len()
			}
		}
	}
	return n
}

// String makes a decision readable in test failures.
func (d decision) String() string {
	if d.reason != "" {
		return fmt.Sprintf("%s(%s)", d.tenant, d.reason)
	}
	return d.tenant
}
