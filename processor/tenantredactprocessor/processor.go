package tenantredactprocessor

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

type redactProcessor struct {
	logger   *zap.Logger
	tel      *metadata.TelemetryBuilder
	opts     redact.Options
	policyID component.ID
	provider policy.Provider

	// live is the redactor of the policy in force and the policy it was
	// built from. A reload rebuilds it once (mu serialises builders) while
	// other batches keep using the previous one.
	live atomic.Pointer[builtRedactor]
	mu   sync.Mutex
	// failed is the last policy whose rules did not build, so a bad reload
	// is logged once, not on every batch. Guarded by mu.
	failed *policy.Policy
}

type builtRedactor struct {
	pol *policy.Policy
	r   *redact.Redactor
}

func newRedactProcessor(cfg *Config, set processor.Settings) (*redactProcessor, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	opts := redact.Options{ActiveHashKey: cfg.ActiveHashKey, HashKeys: map[string][]byte{}}
	for id, k := range cfg.HashKeys {
		opts.HashKeys[id] = []byte(k)
	}
	return &redactProcessor{logger: set.Logger, tel: tel, opts: opts, policyID: cfg.Policy}, nil
}

// Start finds the policy and builds the redactor of the policy in force,
// so a policy whose rules cannot be built stops the collector at start.
func (p *redactProcessor) Start(_ context.Context, host component.Host) error {
	prov, err := policy.FromHost(host, p.policyID)
	if err != nil {
		return err
	}
	p.provider = prov
	_, err = p.redactor()
	return err
}

// Shutdown unregisters nothing: the counters are synchronous and the
// processor runs no goroutine of its own; the pipelines that share it may
// still drain through it after the first of them stops.
func (p *redactProcessor) Shutdown(context.Context) error { return nil }

// redactor returns the redactor of the policy in force, rebuilding it after
// a reload. While one goroutine rebuilds, the others wait for it (about a
// tenth of a second for a 10,000-tenant policy, once per reload): going on
// with the previous rules would let a batch the new policy already governs
// through unredacted, such as a tenant just onboarded named in another's
// record, while the tenant processor already accepts that tenant. A build
// that fails is not retried until the policy changes again.
func (p *redactProcessor) redactor() (*redact.Redactor, error) {
	pol := p.provider.Policy()
	cur := p.live.Load()
	if cur != nil && cur.pol == pol {
		return cur.r, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := p.live.Load(); now != nil && (now.pol == pol || p.failed == pol) {
		return now.r, nil
	}
	r, err := redact.New(pol, p.opts)
	if err != nil {
		if cur != nil {
			p.failed = pol
			p.logger.Error("policy reload: keeping the previous redaction rules", zap.String("policy_version", pol.Version), zap.Error(err))
			return cur.r, nil
		}
		return nil, fmt.Errorf("redaction rules for policy %s: %w", pol.Version, err)
	}
	p.live.Store(&builtRedactor{pol: pol, r: r})
	return r, nil
}

func (p *redactProcessor) record(ctx context.Context, signal string, st redact.Stats) {
	for k, n := range st.Redactions {
		p.tel.TenantredactRedactions.Add(ctx, n, metric.WithAttributes(attribute.String("tenant", k.Tenant), attribute.String("class", k.Class)))
	}
	for tenant, n := range st.Records {
		p.tel.TenantredactRecords.Add(ctx, n, metric.WithAttributes(attribute.String("tenant", tenant), attribute.String("signal", signal)))
	}
}

func (p *redactProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	r, err := p.redactor()
	if err != nil {
		return ld, err
	}
	p.record(ctx, "logs", r.Logs(ld))
	return ld, nil
}

func (p *redactProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	r, err := p.redactor()
	if err != nil {
		return md, err
	}
	p.record(ctx, "metrics", r.Metrics(md))
	return md, nil
}

func (p *redactProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	r, err := p.redactor()
	if err != nil {
		return td, err
	}
	p.record(ctx, "traces", r.Traces(td))
	return td, nil
}
