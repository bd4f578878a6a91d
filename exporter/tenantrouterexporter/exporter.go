package tenantrouterexporter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/tenantsplit"
)

// router is shared by the logs, metrics and traces exporters of one
// config, so a tenant has one queue per backend whatever the signal.
type router struct {
	id       component.ID
	journal  *journal // nil without storage
	cfg      *Config
	logger   *zap.Logger
	provider policy.Provider
	backends map[string]backend
	tel      *telemetry
	// total is the byte budget every queue shares.
	total *byteBudget
	// telemetry is the component's, for the HTTP clients.
	telemetry component.TelemetrySettings
	creds     credentials

	mu       sync.Mutex
	queues   map[statsKey]*TenantQueue
	stopping chan struct{}
	abandon  chan struct{}
	stopped  bool
	// users counts the exporters started and not yet shut down (factory.go).
	users int
}

// newRouter builds the router of one config, shared by its exporters
// through routers (factory.go).
func newRouter(cfg *Config, set exporter.Settings) (*router, error) {
	r := &router{id: set.ID, cfg: cfg, logger: set.Logger, backends: map[string]backend{}, tel: newTelemetry(), total: &byteBudget{limit: cfg.TotalQueueBytes},
		telemetry: set.TelemetrySettings,
		queues:    map[statsKey]*TenantQueue{}, stopping: make(chan struct{}), abandon: make(chan struct{})}
	for name, b := range cfg.Backends {
		switch b.Type {
		case TypeLocalstore:
			r.backends[name] = &localstoreBackend{cfg: b, name: name, logger: set.Logger}
		case TypeOTLPHTTP:
			r.backends[name] = newOTLPHTTPBackend(name, b)
		case TypeRemoteWrite:
			r.backends[name] = newRemoteWriteBackend(name, b)
		case TypeLoki:
			r.backends[name] = newLokiBackend(name, b)
		case TypeKafka:
			k, err := newKafkaBackend(name, b)
			if err != nil {
				return nil, fmt.Errorf("backends.%s: %w", name, err)
			}
			r.backends[name] = k
		default:
			return nil, fmt.Errorf("backends.%s: type %q is not supported", name, b.Type)
		}
	}
	if err := r.tel.register(set.TelemetrySettings); err != nil {
		r.tel.shutdown()
		return nil, err
	}
	return r, nil
}

// Start implements component.Component; internal/sharedcomponent calls it
// once for the three exporters.
func (r *router) Start(ctx context.Context, host component.Host) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	prov, err := policy.FromHost(host, r.cfg.Policy)
	if err != nil {
		return err
	}
	r.provider = prov
	for _, name := range sortedKeys(r.backends) {
		if err := r.backends[name].start(ctx, host, r); err != nil {
			return err
		}
	}
	if r.cfg.Storage != nil {
		return r.restoreLocked(ctx, host)
	}
	return nil
}

// restoreLocked opens the journal and puts back the batches a previous run
// left queued, ahead of anything new. r.mu is held.
func (r *router) restoreLocked(ctx context.Context, host component.Host) error {
	ext, ok := host.GetExtensions()[*r.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: extension %q is not configured", r.cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", r.cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindExporter, r.id, "queues")
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	r.journal = newJournal(client, r.queueSealer())
	pending, err := r.journal.load(ctx)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	for k, bs := range pending {
		if _, ok := r.backends[k.backend]; !ok {
			for _, b := range bs {
				r.tel.of(k.tenant, k.backend).fail(b, reasonUnknownBackend)
				_ = r.journal.remove(ctx, k, b.seq)
			}
			r.logger.Warn("dropping batches queued for a backend no longer configured", zap.String("tenant", k.tenant), zap.String("backend", k.backend), zap.Int("batches", len(bs)))
			continue
		}
		r.newQueueLocked(k, len(bs)).restore(bs)
		r.logger.Info("restored queued batches", zap.String("tenant", k.tenant), zap.String("backend", k.backend), zap.Int("batches", len(bs)))
	}
	return nil
}

// Shutdown implements component.Component: it stops taking batches, lets
// the queues drain (a batch that fails now is not retried: counted as
// shutdown), and once ctx expires abandons what is left, counted too.
// internal/sharedcomponent calls it once, when the last of the three
// exporters shuts down (factory.go), and forgets the router however it
// ends, a missed deadline included: exporters created again from this
// config get a new router, never this stopped one.
func (r *router) Shutdown(ctx context.Context) error {
	// The self-metric callbacks read this router's counters: unregistered,
	// or a stopped router would report its series for as long as the
	// meter provider lives.
	defer r.tel.shutdown()
	r.mu.Lock()
	r.stopped = true
	close(r.stopping)
	queues := make([]*TenantQueue, 0, len(r.queues))
	for _, q := range r.queues {
		q.close()
		queues = append(queues, q)
	}
	r.mu.Unlock()

	for _, q := range queues {
		select {
		case <-q.done:
		case <-ctx.Done():
			close(r.abandon)
			// One grace for every queue together, not one each: the
			// deadline has passed already.
			grace, cancel := context.WithTimeout(context.Background(), abandonGrace)
			defer cancel()
			for _, q := range queues {
				select {
				case <-q.done:
				case <-grace.Done():
				}
			}
			return errors.Join(ctx.Err(), r.shutdownBackends(context.Background()))
		}
	}
	return r.shutdownBackends(ctx)
}

// abandonGrace is how long a shutdown past its deadline still waits for
// the sends it cancelled to return.
var abandonGrace = 5 * time.Second

func (r *router) shutdownBackends(ctx context.Context) error {
	var errs []error
	if r.journal != nil {
		errs = append(errs, r.journal.client.Close(ctx))
	}
	for _, b := range r.backends {
		errs = append(errs, b.shutdown(ctx))
	}
	return errors.Join(errs...)
}

// backendNames lists where a tenant's signal goes: the configured
// quarantine/governance backends for the pipeline tenants (never a
// policy's), else the tenant's policy backends (t, nil when undeclared),
// else the defaults.
func (r *router) backendNames(t *policy.Tenant, tenant string, sig policy.Signal) []string {
	if tenant == policy.Quarantine || tenant == policy.Governance {
		return r.cfg.reserved(tenant)
	}
	if t != nil && len(t.Backends[sig]) > 0 {
		return t.Backends[sig]
	}
	return r.cfg.defaults(sig)
}

func (r *router) queue(tenant, name string) (*TenantQueue, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, errors.New("tenantrouter: shutting down")
	}
	k := statsKey{tenant, name}
	if q, ok := r.queues[k]; ok {
		return q, nil
	}
	return r.newQueueLocked(k, 0), nil
}

// storeGatherRecords is how many records of the batches waiting on a local
// store queue one transaction takes (TenantQueue.gatherBehind): the batch
// processor's default batch, which the store already writes as one.
const storeGatherRecords = 8192

// newQueueLocked makes the (tenant, backend) queue with room for extra
// restored batches beyond its size. r.mu is held.
func (r *router) newQueueLocked(k statsKey, extra int) *TenantQueue {
	tenant, name := k.tenant, k.backend
	bc := r.cfg.Backends[name]
	bounds := queueBounds{batches: r.cfg.QueueSize + extra, bytes: r.cfg.QueueBytes, total: r.total}
	retry, timeout := r.cfg.RetryOnFailure, r.cfg.Timeout
	if bc.QueueSize > 0 {
		bounds.batches = bc.QueueSize + extra
	}
	if bc.QueueBytes > 0 {
		bounds.bytes = bc.QueueBytes
	}
	if _, ok := r.backends[name].(*localstoreBackend); ok {
		bounds.gather = storeGatherRecords
	}
	if bc.Retry != nil {
		retry = *bc.Retry
	}
	if bc.Timeout > 0 {
		timeout = bc.Timeout
	}
	q := newTenantQueue(tenant, name, bounds, bc.Consumers, r.unlessShredded(r.recordingDeliveries(name, r.backends[name].send)), retry, timeout, r.tel.of(tenant, name), r.stopping, r.abandon, r.journal, r.logger)
	r.queues[k] = q
	return q
}

// route puts one partition's batch on the queue of each of its backends.
// A tenant's residency comes from its policy; a pipeline tenant's is the
// one its resources' tenant has (p.residency).
func (r *router) route(pol *policy.Policy, p partKey, b batch) error {
	tenant := p.tenant
	if store := r.shreddedIn(tenant); store != "" {
		r.tel.of(tenant, store).fail(b, reasonShredded)
		return errShredded(tenant, store)
	}
	b.policyVersion = pol.Version
	var errs []error
	t, _ := pol.Tenant(tenant)
	names := r.backendNames(t, tenant, b.signal)
	var fallback []string // where the batch goes when none of names may take it
	if !pipelineTenant(tenant) {
		fallback = r.cfg.defaults(b.signal)
	}
	b.sizeForQueues(r.protoUse(names, fallback))
	defer b.buf.Drop() // route's reference; each queue holds its own
	residency := p.residency
	if t != nil {
		residency = t.Residency
	}
	routed := 0
	for _, name := range names {
		if _, ok := r.backends[name]; !ok {
			r.tel.of(tenant, name).fail(b, reasonUnknownBackend)
			r.logger.Warn("policy names a backend this router does not have; using the defaults", zap.String("tenant", tenant), zap.String("backend", name))
			continue
		}
		if !r.cfg.Backends[name].takes(b.signal) {
			r.tel.of(tenant, name).fail(b, reasonUnsupportedSignal)
			r.logger.Warn("policy sends a signal to a backend that does not take it", zap.String("tenant", tenant),
				zap.String("backend", name), zap.String("signal", string(b.signal)))
			continue
		}
		if !r.may(pol, tenant, name, residency, b, true) {
			continue
		}
		routed++
		errs = append(errs, r.offer(tenant, name, b))
	}
	// The pipeline tenants never fall back to the tenants' defaults.
	if routed == 0 && !pipelineTenant(tenant) {
		for _, name := range fallback {
			// A default the policy also named was counted above.
			if !r.may(pol, tenant, name, residency, b, !slices.Contains(names, name)) {
				continue
			}
			errs = append(errs, r.offer(tenant, name, b))
		}
	}
	return errors.Join(errs...)
}

// protoUse reports whether a batch for the backends names is marshaled as
// OTLP protobuf anyway (one of them sends it so, or the journal writes
// it), and whether that marshaled form may live in reused memory: only
// when nothing but the queues and the OTLP/HTTP backend's request bodies
// hold it, whose references otlpbuf counts. Kafka's client keeps a
// record's value until the broker answers, as long after a send gave up as
// it likes, and the journal hands it to a storage extension; so not when
// either may take the batch, through names or through fallback, the
// backends route falls back to when none of names may. (The Kafka backend
// also copies reused bytes it is given.) A backend named but not
// configured is skipped by route.
func (r *router) protoUse(names, fallback []string) (marshal, pool bool) {
	pool = r.journal == nil
	for _, name := range names {
		switch r.backends[name].(type) {
		case *otlpHTTPBackend, *kafkaBackend:
			marshal = true
		}
	}
	for _, list := range [2][]string{names, fallback} {
		for _, name := range list {
			if _, ok := r.backends[name].(*kafkaBackend); ok {
				pool = false
			}
		}
	}
	if r.journal != nil {
		marshal = true
	}
	return marshal, pool
}

// may reports whether backend name may take tenant's batch: the backend
// knows an id for the tenant, has the tenant's credential when it needs
// one, and keeps data in the tenant's residency.
// The credential is pol's, the policy the batch was routed under.
// When not, and count is set, the refusal is counted and logged.
func (r *router) may(pol *policy.Policy, tenant, name, residency string, b batch, count bool) bool {
	bc := r.cfg.Backends[name]
	if _, ok := bc.backendTenant(tenant); !ok {
		if count {
			r.refuseUnmapped(tenant, name, b)
		}
		return false
	}
	if len(bc.TenantHeaders) > 0 {
		if _, err := r.creds.lookup(pol, name, tenant); err != nil {
			if count {
				r.tel.of(tenant, name).fail(b, reasonNoCredential)
				r.logger.Warn("tenant has no credential for this backend; not sent there", zap.String("tenant", tenant),
					zap.String("backend", name), zap.Error(err))
			}
			return false
		}
	}
	if !bc.holds(residency) {
		if count {
			r.tel.of(tenant, name).fail(b, reasonResidency)
			r.logger.Warn("backend is outside the tenant's residency; not sent there", zap.String("tenant", tenant),
				zap.String("backend", name), zap.String("residency", residency), zap.String("region", bc.Region))
		}
		return false
	}
	return true
}

// refuseUnmapped counts a batch not sent to a backend that has no id for
// its tenant: sending it under the tenant's own name, or another tenant's
// id, could put it where someone else reads.
func (r *router) refuseUnmapped(tenant, name string, b batch) {
	r.tel.of(tenant, name).fail(b, reasonNoBackendTenantID)
	r.logger.Warn("backend has no id for this tenant under tenant_ids; not sent there", zap.String("tenant", tenant),
		zap.String("backend", name), zap.String("signal", string(b.signal)))
}

func (r *router) offer(tenant, name string, b batch) error {
	q, err := r.queue(tenant, name)
	if err != nil {
		r.tel.of(tenant, name).fail(b, reasonShutdown)
		return err
	}
	if r.cfg.WaitForDelivery {
		b.ack = make(chan error, 1)
	}
	if err := q.offer(b); err != nil {
		return fmt.Errorf("tenant %s, backend %s: %w", tenant, name, err)
	}
	if b.ack != nil {
		if err := <-b.ack; err != nil {
			return fmt.Errorf("tenant %s, backend %s: %w", tenant, name, err)
		}
	}
	return nil
}

// The consume functions split a batch the router owns (it declares
// MutatesData), so the parts queued are its own.

func (r *router) consumeLogs(_ context.Context, ld plog.Logs) error {
	pol := r.provider.Policy()
	r.splitGovernance(pol, ld)
	parts := tenantsplit.Logs(pol, ld, func(t string, rl plog.ResourceLogs) partKey {
		return partKey{t, r.logsResidency(pol, t, rl)}
	})
	errs := make([]error, 0, len(parts))
	for _, p := range parts {
		errs = append(errs, r.route(pol, p.Key, batch{signal: policy.SignalLogs, logs: p.Data, records: p.Data.LogRecordCount()}))
	}
	return errors.Join(errs...)
}

func (r *router) consumeMetrics(_ context.Context, md pmetric.Metrics) error {
	pol := r.provider.Policy()
	parts := tenantsplit.Metrics(pol, md, func(t string, rm pmetric.ResourceMetrics) partKey {
		return partKey{t, r.residencyOf(pol, t, rm.Resource().Attributes())}
	})
	errs := make([]error, 0, len(parts))
	for _, p := range parts {
		errs = append(errs, r.route(pol, p.Key, batch{signal: policy.SignalMetrics, metrics: p.Data, records: p.Data.DataPointCount()}))
	}
	return errors.Join(errs...)
}

func (r *router) consumeTraces(_ context.Context, td ptrace.Traces) error {
	pol := r.provider.Policy()
	parts := tenantsplit.Traces(pol, td, func(t string, rs ptrace.ResourceSpans) partKey {
		return partKey{t, r.residencyOf(pol, t, rs.Resource().Attributes())}
	})
	errs := make([]error, 0, len(parts))
	for _, p := range parts {
		errs = append(errs, r.route(pol, p.Key, batch{signal: policy.SignalTraces, traces: p.Data, records: p.Data.SpanCount()}))
	}
	return errors.Join(errs...)
}
