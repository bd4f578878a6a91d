package tenantprocessor

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"

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

// requestLineage is the request's tenant.lineage value, built once and
// shared by its resources.
func (p *tenantProcessor) requestLineage(v *policyView, req requestIdentity) string {
	now := time.Now()
	return identity.Lineage{ID: newLineageID(now), Accepted: now.UnixNano(), Receiver: req.receiver, Auth: req.auth,
		Client: req.client, Tenant: req.proved, Credential: req.lineageCredential, Collector: p.collector,
		PolicyVersion: v.pol.Version}.Encode()
}
