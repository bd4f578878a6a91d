package tenantredactprocessor

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

// TestReloadUnderLoad swaps the policy, now and then for one whose rules
// cannot be built, while batches are redacted: every batch is redacted by
// a whole rule set, and a bad reload keeps the previous one. Run with -race.
func TestReloadUnderLoad(t *testing.T) {
	parse := func(version, yaml string) *policy.Policy {
		p, err := policy.Parse(version, []byte(yaml))
		require.NoError(t, err)
		return p
	}
	const good = "tenants:\n  acme: {identifiers: [acme]}\n  globex: {identifiers: [globex.example]}\n"
	// No hash key is configured, so a policy that hashes cannot be built.
	bad := parse("bad", "tenants:\n  acme: {identifiers: [acme], redaction: {classes: {email: hash}}}\n  globex: {identifiers: [globex.example]}\n")
	prov := policytest.NewSwappable(parse("v0", good))
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), NewFactory().CreateDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(prov)))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ld := logsFor("acme", "see globex.example")
				if !assert.NoError(t, lp.ConsumeLogs(context.Background(), ld)) ||
					!assert.NotContains(t, bodyOf(ld), "globex.example", "foreign identifier kept during a reload") {
					return
				}
			}
		}()
	}
	for i := range 30 {
		if i%3 == 2 {
			prov.Store(bad)
		} else {
			prov.Store(parse("v"+strings.Repeat("1", i+1), good))
		}
		ld := logsFor("acme", "see globex.example")
		require.NoError(t, lp.ConsumeLogs(context.Background(), ld))
		require.Equal(t, "see <redacted:foreign_tenant>", bodyOf(ld))
	}
	close(stop)
	wg.Wait()
}
