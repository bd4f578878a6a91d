package tenantredactprocessor

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

var errNotShared = errors.New("no processor is shared under the id")

func metricsFor(owner, value string) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("peer", value)
	dp.SetIntValue(1)
	return md
}

func peerOf(md pmetric.Metrics) string {
	v, _ := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0).Attributes().Get("peer")
	return v.Str()
}

func tracesFor(owner, value string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().Attributes().PutStr("peer", value)
	return td
}

func spanPeerOf(td ptrace.Traces) string {
	v, _ := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("peer")
	return v.Str()
}

// The collector creates one instance per signal pipeline, each with its own
// meter. The instances of one id share one processor: one rule set (at
// 10,000 tenants the automaton is tens of MB, and building it allocates
// several times that), and counters registered once, with the first
// instance's meter, so every signal is reported. A reload reaches all
// three. Run with -race: the signals redact concurrently while the policy
// is swapped.
func TestSignalInstancesShareOneRedactor(t *testing.T) {
	parse := func(version, yaml string) *policy.Policy {
		p, err := policy.Parse(version, []byte(yaml))
		require.NoError(t, err)
		return p
	}
	const without = "tenants:\n  acme: {identifiers: [acme]}\n  globex: {identifiers: [globex.example]}\n"
	const with = without + "  umbrella: {identifiers: [umbrella.example]}\n"
	prov := policytest.NewSwappable(parse("v0", without))

	f := newFactory()
	pf := f.processorFactory()
	tels := make([]*componenttest.Telemetry, 3)
	settings := func(i int) processor.Settings {
		tels[i] = componenttest.NewTelemetry()
		t.Cleanup(func() { _ = tels[i].Shutdown(context.Background()) })
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tels[i].NewTelemetrySettings()
		return set
	}
	ctx := context.Background()
	logs, metrics, traces := new(consumertest.LogsSink), new(consumertest.MetricsSink), new(consumertest.TracesSink)
	lp, err := pf.CreateLogs(ctx, settings(0), testConfig(), logs)
	require.NoError(t, err)
	mp, err := pf.CreateMetrics(ctx, settings(1), testConfig(), metrics)
	require.NoError(t, err)
	tp, err := pf.CreateTraces(ctx, settings(2), testConfig(), traces)
	require.NoError(t, err)
	host := newHost(prov)
	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Start(ctx, host))
	}

	// Each signal redacts in its own goroutine while the policy is swapped.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	consume := []func() bool{
		func() bool {
			ld := logsFor("acme", "see globex.example")
			return assert.NoError(t, lp.ConsumeLogs(ctx, ld)) && assert.Equal(t, "see <redacted:foreign_tenant>", bodyOf(ld))
		},
		func() bool {
			md := metricsFor("acme", "globex.example")
			return assert.NoError(t, mp.ConsumeMetrics(ctx, md)) && assert.Equal(t, "<redacted:foreign_tenant>", peerOf(md))
		},
		func() bool {
			td := tracesFor("acme", "globex.example")
			return assert.NoError(t, tp.ConsumeTraces(ctx, td)) && assert.Equal(t, "<redacted:foreign_tenant>", spanPeerOf(td))
		},
	}
	for _, c := range consume {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !c() {
					return
				}
			}
		}()
	}
	for i := range 20 {
		if i%2 == 0 {
			prov.Store(parse("v"+strconv.Itoa(i+1), with))
		} else {
			prov.Store(parse("v"+strconv.Itoa(i+1), without))
		}
	}
	close(stop)
	wg.Wait()

	// The last reload (umbrella is a tenant) reaches every signal.
	last := parse("last", with)
	prov.Store(last)
	ld, md, td := logsFor("acme", "see umbrella.example"), metricsFor("acme", "umbrella.example"), tracesFor("acme", "umbrella.example")
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	require.NoError(t, mp.ConsumeMetrics(ctx, md))
	require.NoError(t, tp.ConsumeTraces(ctx, td))
	assert.Equal(t, "see <redacted:foreign_tenant>", bodyOf(ld))
	assert.Equal(t, "<redacted:foreign_tenant>", peerOf(md))
	assert.Equal(t, "<redacted:foreign_tenant>", spanPeerOf(td))

	// One processor, holding one redactor, built from the last policy.
	c, err := f.procs.LoadOrStore(processortest.NewNopSettings(metadata.Type).ID, func() (*redactProcessor, error) {
		t.Fatal("no processor is shared under the id")
		return nil, nil
	})
	require.NoError(t, err)
	live := c.Unwrap().live.Load()
	require.NotNil(t, live)
	assert.Same(t, last, live.pol)

	// The first instance's meter counts the records of every signal.
	signals := map[string]bool{}
	for k := range selfMetrics(t, tels[0]) {
		for _, s := range []string{"logs", "metrics", "traces"} {
			if k == "otelcol_tenantredact_records signal="+s+" tenant=acme" {
				signals[s] = true
			}
		}
	}
	assert.Equal(t, map[string]bool{"logs": true, "metrics": true, "traces": true}, signals)

	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Shutdown(ctx))
	}
	// Every instance shut down, the next build (a config reload) gets a new
	// processor.
	_, err = f.procs.LoadOrStore(processortest.NewNopSettings(metadata.Type).ID, func() (*redactProcessor, error) {
		return nil, errNotShared
	})
	assert.ErrorIs(t, err, errNotShared)
}
