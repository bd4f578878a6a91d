package tenantrouterexporter

import (
	"time"

	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/access"
)

// startReadWatch reports the reads of the policy tenants' stores that
// another process (tenancyctl query, lineage, export, backup) recorded in
// their audit logs to the policy extension, every anchor_interval: the
// same pace as the walk over the chains' heads that anchoring is. The
// tenantanomaly connector reads them there as access.store_reads. A policy
// provider that does not count access (access.StoreReadSink) gets nothing,
// and nothing runs.
func (l *localstoreBackend) startReadWatch(r *router) {
	sink, ok := r.provider.(access.StoreReadSink)
	if !ok {
		return
	}
	every := l.cfg.AnchorInterval
	if every <= 0 {
		every = defaultAnchorInterval
	}
	w := l.store.WatchReads(time.Now())
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			// Policy tenants only: the sink counts nothing else, and the
			// watch holds no more than it is given.
			reads, err := w.Reads(r.provider.Policy().TenantIDs(), time.Now())
			if err != nil {
				l.logger.Warn("store reads: audit logs", zap.Error(err))
			}
			for tenant, n := range reads {
				sink.CountStoreReads(tenant, n)
			}
		}
	}()
}
