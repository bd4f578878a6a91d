package tenantrouterexporter

import (
	"time"

	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/localstore"
)

// readCounter reports the reads of the policy tenants' stores that another
// process (tenancyctl query, lineage, export, backup) recorded in their
// audit logs to the policy extension; the tenantanomaly connector reads
// them there as access.store_reads. The anchor loop runs it at its own
// pace: both walk the chains' heads.
type readCounter struct {
	sink   access.StoreReadSink
	watch  *localstore.ReadWatch
	logger *zap.Logger
}

// watchReads starts counting reads from now; nil (counting nothing) when
// the policy provider does not count access.
func (l *localstoreBackend) watchReads(r *router) *readCounter {
	sink, ok := r.provider.(access.StoreReadSink)
	if !ok {
		return nil
	}
	return &readCounter{sink: sink, watch: l.store.WatchReads(time.Now()), logger: l.logger}
}

// count reports the reads recorded since the last count.
func (c *readCounter) count(r *router) {
	if c == nil {
		return
	}
	// Policy tenants only: the sink counts nothing else, and the watch
	// holds no more than it is given.
	reads, err := c.watch.Reads(r.provider.Policy().TenantIDs(), time.Now())
	if err != nil {
		c.logger.Warn("store reads: audit logs", zap.Error(err))
	}
	for tenant, rd := range reads {
		c.sink.CountStoreReads(tenant, rd.N, rd.Actors)
	}
}
