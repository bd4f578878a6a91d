package tenantpolicyextension

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/selfmetrics"
)

// policyExtension loads the policy, keeps the last good one in force across
// reloads, and authenticates callers against it.
type policyExtension struct {
	cfg    *Config
	logger *zap.Logger
	tel    *metadata.TelemetryBuilder

	current atomic.Pointer[policy.Policy]
	access  *access.Tracker
	auth    authCounts
	// lastSeen is the hash of the file content last read, valid or not, so a
	// broken file is reported once, not on every poll.
	lastSeen    [sha256.Size]byte
	readFailing bool
	reloadMu    sync.Mutex // guards lastSeen and readFailing

	stop chan struct{}
	done sync.WaitGroup
}

var (
	_ extension.Extension    = (*policyExtension)(nil)
	_ extensionauth.Server   = (*policyExtension)(nil)
	_ policy.Provider        = (*policyExtension)(nil)
	_ access.Source          = (*policyExtension)(nil)
	_ access.StoreReadSink   = (*policyExtension)(nil)
	_ component.StartFunc    = (*policyExtension)(nil).Start
	_ component.ShutdownFunc = (*policyExtension)(nil).Shutdown
)

func newPolicyExtension(cfg *Config, set extension.Settings) (*policyExtension, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, fmt.Errorf("tenantpolicy: telemetry: %w", err)
	}
	return &policyExtension{cfg: cfg, logger: set.Logger, tel: tel,
		access: access.New(cfg.Access.LearningPeriod, cfg.Access.AddressesPerTenant, time.Now)}, nil
}

// Start loads the policy. An invalid policy fails the start: a collector
// must not serve tenants it cannot tell apart.
func (e *policyExtension) Start(ctx context.Context, _ component.Host) error {
	data, err := os.ReadFile(e.cfg.Path)
	if err != nil {
		e.tel.TenantpolicyReloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "failure")))
		return fmt.Errorf("tenantpolicy: %w", err)
	}
	p, err := policy.Parse(e.cfg.Path, data)
	if err != nil {
		e.tel.TenantpolicyReloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "failure")))
		return fmt.Errorf("tenantpolicy: invalid policy:\n%w", err)
	}
	e.lastSeen = sha256.Sum256(data)
	e.install(ctx, p)
	if err := e.tel.RegisterTenantpolicyTenantInfoCallback(e.observeTenantInfo); err != nil {
		return fmt.Errorf("tenantpolicy: telemetry: %w", err)
	}
	if err := e.auth.register(e.tel); err != nil {
		return fmt.Errorf("tenantpolicy: telemetry: %w", err)
	}
	if e.cfg.TrustedHeader.Enabled {
		e.logger.Warn("Trusted header mode is on: the tenant header is believed without a key; only run this behind a proxy that sets it",
			zap.String("header", e.cfg.TrustedHeader.Name))
	}
	e.stop = make(chan struct{})
	e.done.Add(1)
	go e.watch()
	return nil
}

// Shutdown stops the reload loop and the info callback.
func (e *policyExtension) Shutdown(context.Context) error {
	e.tel.Shutdown()
	if e.stop != nil {
		close(e.stop)
		e.done.Wait()
		e.stop = nil
	}
	return nil
}

// Policy returns the policy in force.
func (e *policyExtension) Policy() *policy.Policy { return e.current.Load() }

// AuthenticatesByPolicyAlone declares that Authenticate answers from the
// policy in force and the request's credentials, nothing else
// (policy.Authenticator): the gateway's gRPC tap then asks once per call.
// It returns e, so a type embedding e is not taken for it.
func (e *policyExtension) AuthenticatesByPolicyAlone() policy.Authenticator { return e }

var _ policy.Authenticator = (*policyExtension)(nil)

// AccessCounts implements access.Source.
func (e *policyExtension) AccessCounts(tenant string) (access.Counts, bool) {
	return e.access.Counts(tenant)
}

// AccessCredentials implements access.Source.
func (e *policyExtension) AccessCredentials(tenant string) []access.CredentialCounts {
	return e.access.Credentials(tenant)
}

// CountStoreReads implements access.StoreReadSink: the tenantrouter's
// local store reports here the reads it found in the tenants' audit logs,
// for the connector to read with the other access counts.
func (e *policyExtension) CountStoreReads(tenant string, n uint64, actors []string) {
	if p := e.current.Load(); p != nil {
		e.access.StoreReads(p, tenant, n, actors)
	}
}

// AccessStoreReaders implements access.Source.
func (e *policyExtension) AccessStoreReaders(tenant string) []string {
	return e.access.StoreReaders(tenant)
}

func (e *policyExtension) install(ctx context.Context, p *policy.Policy) {
	e.current.Store(p)
	e.access.Retain(p)
	e.tel.TenantpolicyReloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "success")))
	e.tel.TenantpolicyTenants.Record(ctx, int64(p.Len()))
	e.logger.Info("Tenant policy in force", zap.String("path", p.Source),
		zap.String("version", p.Version), zap.Int("tenants", p.Len()))
	warnCardinality(e.logger, p.Len(), selfmetrics.CardinalityLimit())
}

// warnCardinality says so when the process's cap on the series of one
// metric is too small for the policy's tenants: past it the SDK folds
// tenants' series into one otel_metric_overflow series without a word,
// and per-tenant dashboards and alerts lose them (the
// TenancySelfMetricsOverflowing alert fires once it happens). The cap is
// left to the operator: at telemetry level detailed the collector's HTTP
// and gRPC instrumentation labels series with what clients send (the Host
// header), and the cap is what bounds those (docs/decisions.md).
func warnCardinality(logger *zap.Logger, tenants, limit int) {
	if limit == 0 || tenants*selfmetrics.SeriesPerTenant <= limit {
		return
	}
	logger.Warn("Per-tenant self-metrics will lose tenants: the OpenTelemetry SDK keeps at most "+
		fmt.Sprint(limit)+" series per metric and folds the rest into one otel_metric_overflow series; set "+
		selfmetrics.CardinalityLimitEnv+" in the collector's environment to at least "+
		fmt.Sprint(tenants*selfmetrics.SeriesPerTenant)+" ("+fmt.Sprint(selfmetrics.SeriesPerTenant)+" per tenant)",
		zap.Int("tenants", tenants), zap.Int("series_limit", limit))
}

// observeTenantInfo reports one series per declared tenant, valued 1, that
// carries its tier and region: dashboards and alerts join it on tenant
// (`* on(tenant) group_left(tier)`) instead of every per-tenant series
// carrying them, so a tier change is one series, not a relabelled history.
// A tenant the policy drops disappears at the next collection.
func (e *policyExtension) observeTenantInfo(_ context.Context, o metric.Int64Observer) error {
	p := e.current.Load()
	if p == nil {
		return nil
	}
	for _, id := range p.TenantIDs() {
		t, _ := p.Tenant(id)
		tier, region := t.Tier, t.Residency
		if tier == "" {
			tier = NoTier
		}
		if region == "" {
			region = AnyRegion
		}
		o.Observe(1, metric.WithAttributes(attribute.String("tenant", id), attribute.String("tier", tier), attribute.String("region", region)))
	}
	return nil
}

// The info series' values for a tenant without a tier or a residency, so
// that every tenant has both labels and a `by (tier)` sum keeps them apart.
const (
	NoTier    = "none"
	AnyRegion = "any"
)

func (e *policyExtension) watch() {
	defer e.done.Done()
	tick := time.NewTicker(e.cfg.ReloadInterval)
	defer tick.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-tick.C:
			e.reload(context.Background())
		}
	}
}

// reload reads the file and swaps in a changed, valid policy. Reading the
// whole file (not watching events) also sees Kubernetes ConfigMap symlink
// swaps and editors that replace the file.
func (e *policyExtension) reload(ctx context.Context) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	data, err := os.ReadFile(e.cfg.Path)
	if err != nil {
		if e.readFailing {
			return
		}
		e.readFailing = true
		e.lastSeen = [sha256.Size]byte{}
		e.tel.TenantpolicyReloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "failure")))
		e.logger.Error("Tenant policy file unreadable; the last good policy stays in force",
			zap.Error(err), zap.String("version_in_force", e.Policy().Version))
		return
	}
	e.readFailing = false
	sum := sha256.Sum256(data)
	if sum == e.lastSeen {
		return
	}
	e.lastSeen = sum
	p, err := policy.Parse(e.cfg.Path, data)
	if err != nil {
		e.tel.TenantpolicyReloads.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "failure")))
		e.logger.Error("Tenant policy change refused; the last good policy stays in force",
			zap.Error(err), zap.String("version_in_force", e.Policy().Version))
		return
	}
	e.install(ctx, p)
}
