package tenantredactprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

// Hostile review of 730e1d3: a batch that arrives while another signal's
// batch rebuilds the rules after a reload is redacted by the previous
// rules. umbrella is onboarded (v2); acme's record naming umbrella.example
// passes unredacted while the build holds the lock (simulated by holding
// it, as a 10,000-tenant build does for ~0.1 s).
func TestHostileReview2BatchDuringRebuildUsesNewRules(t *testing.T) {
	parse := func(version, yaml string) *policy.Policy {
		p, err := policy.Parse(version, []byte(yaml))
		require.NoError(t, err)
		return p
	}
	const v1 = "tenants:\n  acme: {identifiers: [acme]}\n  globex: {identifiers: [globex.example]}\n"
	const v2 = v1 + "  umbrella: {identifiers: [umbrella.example]}\n"
	prov := policytest.NewSwappable(parse("v1", v1))
	f := newFactory()
	ctx := context.Background()
	lp, err := f.processorFactory().CreateLogs(ctx, processortest.NewNopSettings(metadata.Type), testConfig(), new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, lp.Start(ctx, newHost(prov)))
	defer func() { require.NoError(t, lp.Shutdown(ctx)) }()
	c, err := f.procs.LoadOrStore(processortest.NewNopSettings(metadata.Type).ID, func() (*redactProcessor, error) { return nil, errNotShared })
	require.NoError(t, err)
	p := c.Unwrap()

	prov.Store(parse("v2", v2))
	p.mu.Lock() // another signal's batch is building v2's rules
	ld := logsFor("acme", "see umbrella.example")
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, lp.ConsumeLogs(ctx, ld))
	}()
	select {
	case <-done: // it went on with the previous rules
	case <-time.After(500 * time.Millisecond): // it waits for the build
	}
	p.mu.Unlock()
	<-done
	assert.Equal(t, "see <redacted:foreign_tenant>", bodyOf(ld), "a batch after the reload is redacted by the new policy")
}
