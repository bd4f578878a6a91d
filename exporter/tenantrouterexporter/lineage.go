package tenantrouterexporter

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Lineage of what went elsewhere: a localstore backend records the
// requests of each batch it stores itself (localstore reads the
// tenant.lineage the tenant processor wrote); for a batch another backend
// delivered, the router records in the tenant's store which backend and
// when (localstore.RecordDelivery), so `tenancyctl lineage` follows a
// request past this collector. Batches keep their tenant.lineage on the
// way to other backends: its id is how their copy matches the store's.

// recordingDeliveries wraps a backend's send so each batch it delivers is
// recorded in a store, when the router has a store and the backend is not
// one.
func (r *router) recordingDeliveries(name string, send func(context.Context, string, batch) error) func(context.Context, string, batch) error {
	if _, isStore := r.backends[name].(*localstoreBackend); isStore || len(r.lineageStores()) == 0 {
		return send
	}
	return func(ctx context.Context, tenant string, b batch) error {
		err := send(ctx, tenant, b)
		if err == nil {
			r.recordDelivery(tenant, name, b, time.Now())
		}
		return err
	}
}

// lineageStores are the router's localstore backends, by name.
func (r *router) lineageStores() []string {
	var out []string
	for _, name := range sortedKeys(r.backends) {
		if _, ok := r.backends[name].(*localstoreBackend); ok {
			out = append(out, name)
		}
	}
	return out
}

// recordDelivery writes the batch's lineage to the first store that may
// hold the tenant's data (its residency, its id under tenant_ids). Only
// policy tenants: a pipeline tenant's residency is its resources'
// tenants', which a delivered batch no longer says; their lineage is in
// the store they are stored in. A failure is logged: the data was
// delivered, and its lineage is the part lost.
func (r *router) recordDelivery(tenant, backend string, b batch, at time.Time) {
	if pipelineTenant(tenant) {
		return
	}
	pol := r.provider.Policy()
	residency := ""
	if t, ok := pol.Tenant(tenant); ok {
		residency = t.Residency
	}
	for _, name := range r.lineageStores() {
		store := r.backends[name].(*localstoreBackend).store
		if store == nil || !r.may(pol, tenant, name, residency, b, false) {
			continue
		}
		var l *localstore.Lineage
		switch b.signal {
		case policy.SignalLogs:
			l = localstore.LogsLineage(b.logs)
		case policy.SignalMetrics:
			l = localstore.MetricsLineage(b.metrics)
		case policy.SignalTraces:
			l = localstore.TracesLineage(b.traces)
		}
		if err := store.RecordDelivery(tenant, b.signal, l, backend, at, b.policyVersion); err != nil {
			r.logger.Warn("lineage of a delivered batch not recorded", zap.String("tenant", tenant), zap.String("backend", backend),
				zap.String("store", name), zap.Error(err))
		}
		return
	}
}
