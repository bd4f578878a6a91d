package tenantprocessor

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

type tenantProcessor struct {
	cfg      *Config
	logger   *zap.Logger
	secret   []byte
	provider policy.Provider
	// trusted are trusted_receivers' ids as the AuthData's Receiver spells
	// them, rendered once: readRequest compares them on every request.
	trusted []string
	// collector names this instance in each request's lineage.
	collector string

	// view caches the fingerprints of the policy in force, rebuilt when the
	// provider hands out a new policy, so the hot path does no HMAC.
	view      atomic.Pointer[policyView]
	counters  counters
	telemetry *metadata.TelemetryBuilder
}

type policyView struct {
	pol *policy.Policy
	// entries has one entry per policy tenant, so one map lookup answers
	// "known?", "active?", its fingerprint and where to count. Pipeline
	// tenants are not in it: a resource naming one is quarantined as
	// reserved, and count relies on it holding policy tenants only.
	entries    map[string]*tenantEntry
	quarantine *tenantEntry
	// lineage encodes its requests' lineages (h18o_lineage.go).
	lineage lineageTails
}

type tenantEntry struct {
	tenant      *policy.Tenant // nil for the pipeline tenants
	fingerprint string
	counts      *signalCounts
}

func newTenantProcessor(cfg *Config, set processor.Settings) (*tenantProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &tenantProcessor{cfg: cfg, logger: set.Logger, secret: []byte(cfg.FingerprintSecret), telemetry: tb,
		collector: collectorInstance(set.TelemetrySettings)}
	for _, id := range cfg.TrustedReceivers {
		p.trusted = append(p.trusted, id.String())
	}
	if err := p.counters.register(tb); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return p, nil
}

// Start finds the policy provider. It runs once for all the signal
// instances sharing p (sharedcomponent), before any receiver starts, so no
// record is in flight yet.
func (p *tenantProcessor) Start(_ context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, p.cfg.Policy)
	if err != nil {
		return err
	}
	p.provider = prov
	return nil
}

// Shutdown unregisters the self-metrics callbacks, so the processor a
// config reload builds next is the only one reporting; the processor runs
// no goroutine of its own.
func (p *tenantProcessor) Shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

func (p *tenantProcessor) currentView() *policyView {
	pol := p.provider.Policy()
	if v := p.view.Load(); v != nil && v.pol == pol {
		return v
	}
	v := &policyView{pol: pol, entries: make(map[string]*tenantEntry, pol.Len())}
	for _, id := range pol.TenantIDs() {
		t, _ := pol.Tenant(id)
		v.entries[id] = &tenantEntry{tenant: t, fingerprint: identity.Fingerprint(p.secret, id), counts: p.counters.accepted(id)}
	}
	v.quarantine = &tenantEntry{fingerprint: identity.Fingerprint(p.secret, policy.Quarantine)}
	p.view.Store(v)
	return v
}

// requestIdentity is what the request says about its tenant, read once per
// batch: the same for every resource in it.
type requestIdentity struct {
	verified string // from a key or certificate
	header   string // from a trusted proxy
	// credential and source attribute a quarantined resource to its sender.
	credential string
	source     string
	// What the request's lineage records: the receiver that names itself,
	// the client's address, how the tenant was proved, the tenant proved
	// (believed or not) and its credential.
	receiver, client, auth, proved, lineageCredential string
	// relayed: a trusted receiver relayed the request (tenantkafka at the
	// processing tier), so the lineage the data carries is the edge's word
	// too, kept as the upstream of this request's.
	relayed bool
}

func (p *tenantProcessor) readRequest(ctx context.Context) requestIdentity {
	var r requestIdentity
	if a, ok := identity.AuthFromContext(ctx); ok {
		switch {
		case a.Source.Verified():
			r.verified, r.credential = a.Tenant, a.Credential
		case a.Source == identity.SourceTrustedHeader:
			r.header = a.Tenant
		case a.Source == identity.SourceKafkaTopic && slices.Contains(p.trusted, a.Receiver):
			r.verified, r.credential, r.relayed = a.Tenant, a.Credential, true
		}
		r.source = a.Receiver
		r.receiver, r.auth, r.proved, r.lineageCredential = a.Receiver, string(a.Source), a.Tenant, a.Credential
	}
	info := client.FromContext(ctx)
	if r.header == "" && p.cfg.TrustedHeader != "" {
		if v := info.Metadata.Get(p.cfg.TrustedHeader); len(v) > 0 {
			r.header = v[0]
		}
	}
	if info.Addr != nil {
		r.client = info.Addr.String()
		if r.source != "" {
			r.source += " "
		}
		r.source += r.client
	}
	return r
}

// stamp decides the tenant of one resource and rewrites its tenant.*
// attributes. Everything a client wrote under tenant.* is dropped: after
// this processor, those attributes are the pipeline's word only, and the
// resource holds exactly one tenant.id.
func (p *tenantProcessor) stamp(v *policyView, req requestIdentity, attrs pcommon.Map) (*tenantEntry, reason) {
	claim, claims, claimMalformed := "", 0, false
	// One pass finds the claims and drops the rest of the tenant namespace;
	// the first tenant.id is kept so it can be overwritten in place. OTLP
	// lets a key repeat, and a reader that picked another copy than this
	// processor decided on would route by the client's word: a repeated
	// tenant.id is malformed, whatever its values.
	attrs.RemoveIf(func(k string, val pcommon.Value) bool {
		if !strings.HasPrefix(k, identity.AttrPrefix) {
			identity.StripValue(val)
			return false
		}
		if k != identity.AttrTenantID {
			return true
		}
		claims++
		s := val.AsString()
		if val.Type() != pcommon.ValueTypeStr {
			claimMalformed = true
		}
		if claims == 1 {
			claim = s
			return false
		}
		claim = identity.Truncate(claim+","+s, identity.MaxClaimed)
		return true
	})
	hasClaim := claims > 0
	if claims > 1 {
		claimMalformed = true
	}

	e, r, attempted := p.decide(v, req, claim, hasClaim, claimMalformed)
	// Grow the attribute slice once, to its final size, rather than letting
	// append double it.
	grow := 2 // tenant.fingerprint, tenant.lineage (processX)
	if !hasClaim {
		grow++ // tenant.id
	}
	if e == v.quarantine {
		grow += 5 // reason, claimed, authenticated, credential, source
	}
	attrs.EnsureCapacity(attrs.Len() + grow)
	if e == v.quarantine {
		attrs.PutStr(identity.AttrTenantID, policy.Quarantine)
		attrs.PutStr(identity.AttrQuarantineReason, r.String())
		if attempted != "" {
			attrs.PutStr(identity.AttrClaimed, identity.Truncate(attempted, identity.MaxClaimed))
		}
		// Who sent it: a spoof or a malformed claim is attributable to the
		// verified tenant and the key that proved it, never the key itself.
		if req.verified != "" {
			attrs.PutStr(identity.AttrAuthenticated, req.verified)
		}
		if req.credential != "" {
			attrs.PutStr(identity.AttrCredential, req.credential)
		}
		if req.source != "" {
			attrs.PutStr(identity.AttrSource, req.source)
		}
	} else if !hasClaim || claim != e.tenant.ID {
		attrs.PutStr(identity.AttrTenantID, e.tenant.ID)
	}
	attrs.PutStr(identity.AttrFingerprint, e.fingerprint)
	return e, r
}

// decide applies the resolution order of docs/design.md: verified identity,
// then trusted header, then the resource's claim. It returns the id that was
// tried, for tenant.claimed when the resource is quarantined.
func (p *tenantProcessor) decide(v *policyView, req requestIdentity, claim string, hasClaim, claimMalformed bool) (*tenantEntry, reason, string) {
	var id string
	switch {
	case hasClaim && claimMalformed:
		// Repeated or not a string: no reading of it can be trusted, even
		// one that matches the identity.
		return v.quarantine, reasonMalformed, claim
	case req.verified != "" || req.header != "":
		id = req.verified
		if id == "" {
			id = req.header
		}
		if hasClaim && claim != id {
			return v.quarantine, reasonSpoofed, claim
		}
	case hasClaim:
		if !p.cfg.AllowUnverifiedClaims {
			return v.quarantine, reasonUnverified, claim
		}
		id = claim
	default:
		return v.quarantine, reasonMissing, ""
	}
	// A policy tenant's id is valid by construction, so the id rules only
	// run for ids the policy does not know.
	if e, ok := v.entries[id]; ok {
		if !e.tenant.Active() {
			return v.quarantine, reasonSuspended, id
		}
		return e, reasonNone, ""
	}
	switch {
	case policy.ValidateTenantID(id) != nil:
		return v.quarantine, reasonMalformed, id
	case policy.IsReserved(id):
		return v.quarantine, reasonReserved, id
	}
	return v.quarantine, reasonUnknown, id
}

func (p *tenantProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	lineage := p.requestLineage(v, req)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		value := lineage.value(req, rl.Resource().Attributes())
		e, r := p.stamp(v, req, rl.Resource().Attributes())
		rl.Resource().Attributes().PutStr(identity.AttrLineage, value)
		stripLogs(rl)
		p.count(v, e, r, req, signalLogs, pdatacount.LogRecords(rl))
	}
	return ld, nil
}

func (p *tenantProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	lineage := p.requestLineage(v, req)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		value := lineage.value(req, rm.Resource().Attributes())
		e, r := p.stamp(v, req, rm.Resource().Attributes())
		rm.Resource().Attributes().PutStr(identity.AttrLineage, value)
		stripMetrics(rm)
		p.count(v, e, r, req, signalMetrics, pdatacount.DataPoints(rm))
	}
	return md, nil
}

func (p *tenantProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	v, req := p.currentView(), p.readRequest(ctx)
	lineage := p.requestLineage(v, req)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		value := lineage.value(req, rs.Resource().Attributes())
		e, r := p.stamp(v, req, rs.Resource().Attributes())
		rs.Resource().Attributes().PutStr(identity.AttrLineage, value)
		stripTraces(rs)
		p.count(v, e, r, req, signalTraces, pdatacount.Spans(rs))
	}
	return td, nil
}
