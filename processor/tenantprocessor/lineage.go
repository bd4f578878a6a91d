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
// request said about itself, written once as a tenant.lineage map and
// copied onto each of its resources with the decision on that resource.
// It runs before any batch processor, where one request is still one call.

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

// requestLineage builds the request's lineage map, less the decision.
func (p *tenantProcessor) requestLineage(v *policyView, req requestIdentity) pcommon.Map {
	now := time.Now()
	m := pcommon.NewMap()
	m.EnsureCapacity(10)
	m.PutStr(identity.LineageID, newLineageID(now))
	m.PutInt(identity.LineageAccepted, now.UnixNano())
	put := func(k, v string) {
		if v != "" {
			m.PutStr(k, v)
		}
	}
	put(identity.LineageReceiver, req.receiver)
	put(identity.LineageClient, req.client)
	put(identity.LineageAuth, req.auth)
	put(identity.LineageTenant, req.proved)
	put(identity.LineageCredential, req.lineageCredential)
	put(identity.LineageCollector, p.collector)
	put(identity.LineagePolicyVersion, v.pol.Version)
	return m
}

// stampLineage writes the request's lineage on one resource, with the
// decision taken on it.
func stampLineage(attrs, lineage pcommon.Map, quarantined bool, r reason) {
	m := attrs.PutEmptyMap(identity.AttrLineage)
	lineage.CopyTo(m)
	if quarantined {
		m.PutStr(identity.LineageDecision, identity.DecisionQuarantinedPrefix+r.String())
	} else {
		m.PutStr(identity.LineageDecision, identity.DecisionAccepted)
	}
}
