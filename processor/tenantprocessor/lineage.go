package tenantprocessor

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// Each request the processor accepts gets a lineage: an id and what the
// request said about itself, encoded once as the tenant.lineage string
// each of its resources carries (the decision on a resource is its
// tenant.id and quarantine reason). It runs before any batch processor,
// where one request is still one call.

// collectorInstance names this collector in lineage: its
// service.instance.id (the collector sets one at start), else the host.
func collectorInstance(set component.TelemetrySettings) string {
	if v, ok := set.Resource.Attributes().Get("service.instance.id"); ok && v.Str() != "" {
		return v.Str()
	}
	host, _ := os.Hostname()
	return host
}

// newLineageID is 128 bits in the UUIDv7 layout, as 32 hex digits: the
// first 48 bits are the Unix milliseconds, so ids sort by time, the rest
// random. Unguessable ids are not needed: no client can set one (the
// processor removes every client tenant.* key), only unique ones.
func newLineageID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16|rand.Uint64()&0x0fff|0x7000)
	binary.BigEndian.PutUint64(b[8:], rand.Uint64()&^(3<<62)|1<<63)
	return hex.EncodeToString(b[:])
}

// requestLineage is the lineage of one call: the request's, encoded once
// and shared by its resources, and for a relayed request the same with
// each upstream lineage its resources carried.
type requestLineage struct {
	own     identity.Lineage
	encoded string
	// withUpstream caches the value for each upstream value seen in the
	// call (a relayed batch holds the edge's requests).
	withUpstream map[string]string
}

func (p *tenantProcessor) requestLineage(v *policyView, req requestIdentity) *requestLineage {
	now := time.Now()
	own := identity.Lineage{ID: newLineageID(now), Accepted: now.UnixNano(), Receiver: req.receiver, Auth: req.auth,
		Client: req.client, Tenant: req.proved, Credential: req.lineageCredential, Collector: p.collector,
		PolicyVersion: v.pol.Version}
	return &requestLineage{own: own, encoded: v.lineage.encode(own)}
}

// maxUpstreamBytes bounds a relayed tenant.lineage read as an upstream.
// An edge's is a few hundred bytes (its facts are ids, an address, a
// tenant id of at most 150 bytes); a longer one was not written by an
// edge's tenant processor, and parsing and encoding it again would cost
// the processing tier many times its size (JSON escapes '<' sixfold).
const maxUpstreamBytes = 4 << 10

// value is the tenant.lineage a resource gets. Read before stamp removes
// what the resource carried: a relayed resource's lineage becomes the
// upstream of this request's; anyone else's is a client's claim and goes.
func (l *requestLineage) value(req requestIdentity, attrs pcommon.Map) string {
	if !req.relayed {
		return l.encoded
	}
	v, ok := attrs.Get(identity.AttrLineage)
	if !ok || v.Type() != pcommon.ValueTypeStr || len(v.Str()) > maxUpstreamBytes {
		return l.encoded
	}
	if s, ok := l.withUpstream[v.Str()]; ok {
		return s
	}
	s := l.encoded
	// An edge writes a resource into the topic of the tenant its request
	// proved (or, for an unverified claim it allowed, proved none): a
	// lineage naming another tenant was not written by an edge.
	if up, ok := identity.ParseLineage(v.Str()); ok && (up.Tenant == "" || up.Tenant == req.verified) {
		up.Upstream = nil
		own := l.own
		own.Upstream = &up
		s = own.Encode()
	}
	if l.withUpstream == nil {
		l.withUpstream = map[string]string{}
	}
	l.withUpstream[v.Str()] = s
	return s
}
