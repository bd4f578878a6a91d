package tenantredactprocessor

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

// Hostile review of 730e1d3: the first signal instance to shut down ends
// nothing the others use. While the logs instance shuts down, metrics and
// traces go on redacting through policy reloads (under -race), and a
// reload after it (a tenant onboarded) still reaches them.
func TestHostileReview2ShutdownOfOneSignalWhileOthersRun(t *testing.T) {
	parse := func(version, yaml string) *policy.Policy {
		p, err := policy.Parse(version, []byte(yaml))
		require.NoError(t, err)
		return p
	}
	const v1 = "tenants:\n  acme: {identifiers: [acme]}\n  globex: {identifiers: [globex.example]}\n"
	const v2 = v1 + "  umbrella: {identifiers: [umbrella.example]}\n"
	prov := policytest.NewSwappable(parse("v1", v1))
	pf := newFactory().processorFactory()
	ctx := context.Background()
	set := processortest.NewNopSettings(metadata.Type)
	lp, err := pf.CreateLogs(ctx, set, testConfig(), new(consumertest.LogsSink))
	require.NoError(t, err)
	mp, err := pf.CreateMetrics(ctx, set, testConfig(), new(consumertest.MetricsSink))
	require.NoError(t, err)
	tp, err := pf.CreateTraces(ctx, set, testConfig(), new(consumertest.TracesSink))
	require.NoError(t, err)
	host := newHost(prov)
	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Start(ctx, host))
	}

	var wg sync.WaitGroup
	stop := make(chan struct{})
	run := func(f func() bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !f() {
					return
				}
			}
		}()
	}
	run(func() bool {
		md := metricsFor("acme", "globex.example")
		return assert.NoError(t, mp.ConsumeMetrics(ctx, md)) && assert.Equal(t, "<redacted:foreign_tenant>", peerOf(md))
	})
	run(func() bool {
		td := tracesFor("acme", "globex.example")
		return assert.NoError(t, tp.ConsumeTraces(ctx, td)) && assert.Equal(t, "<redacted:foreign_tenant>", spanPeerOf(td))
	})
	for i := range 6 {
		if i == 3 {
			require.NoError(t, lp.Shutdown(ctx))
		}
		prov.Store(parse("r"+strconv.Itoa(i), v1))
	}
	close(stop)
	wg.Wait()

	prov.Store(parse("v2", v2))
	md, td := metricsFor("acme", "umbrella.example"), tracesFor("acme", "umbrella.example")
	require.NoError(t, mp.ConsumeMetrics(ctx, md))
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	assert.Equal(t, "<redacted:foreign_tenant>", peerOf(md))
	assert.Equal(t, "<redacted:foreign_tenant>", spanPeerOf(td))
	require.NoError(t, mp.Shutdown(ctx))
	require.NoError(t, tp.Shutdown(ctx))
}
