package tenantredactprocessor

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

func newHost(prov policy.Provider) component.Host { return policytest.NewHost(prov, nil) }

func loadPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Load("testdata/tenants.yaml")
	require.NoError(t, err)
	return p
}

func testConfig() *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.HashKeys = map[string]configopaque.String{"k1": "0123456789abcdef"}
	cfg.ActiveHashKey = "k1"
	return cfg
}

func logsFor(owner, body string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(body)
	return ld
}

func bodyOf(ld plog.Logs) string {
	return ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str()
}

// TestAllSignals runs the redact package's golden inputs through the real
// factory and checks that no foreign identifier of the inputs survives.
func TestAllSignals(t *testing.T) {
	set := processortest.NewNopSettings(metadata.Type)
	host := newHost(policy.Static{P: loadPolicy(t)})
	ctx := context.Background()
	logsSink, metricsSink, tracesSink := new(consumertest.LogsSink), new(consumertest.MetricsSink), new(consumertest.TracesSink)
	lp, err := NewFactory().CreateLogs(ctx, set, testConfig(), logsSink)
	require.NoError(t, err)
	mp, err := NewFactory().CreateMetrics(ctx, set, testConfig(), metricsSink)
	require.NoError(t, err)
	tp, err := NewFactory().CreateTraces(ctx, set, testConfig(), tracesSink)
	require.NoError(t, err)
	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Start(ctx, host))
		t.Cleanup(func() { _ = c.Shutdown(ctx) })
	}
	input, err := os.ReadFile("../../internal/redact/testdata/mixed/input.json")
	require.NoError(t, err)
	lines := bytes.Split(bytes.TrimSpace(input), []byte("\n"))
	require.Len(t, lines, 3)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(lines[0])
	require.NoError(t, err)
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(lines[1])
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(lines[2])
	require.NoError(t, err)
	require.NoError(t, lp.ConsumeLogs(ctx, ld))
	require.NoError(t, mp.ConsumeMetrics(ctx, md))
	require.NoError(t, tp.ConsumeTraces(ctx, td))

	var out []byte
	b, _ := (&plog.JSONMarshaler{}).MarshalLogs(logsSink.AllLogs()[0])
	out = append(out, b...)
	b, _ = (&pmetric.JSONMarshaler{}).MarshalMetrics(metricsSink.AllMetrics()[0])
	out = append(out, b...)
	b, _ = (&ptrace.JSONMarshaler{}).MarshalTraces(tracesSink.AllTraces()[0])
	out = append(out, b...)
	s := strings.ToLower(string(out))
	for _, foreign := range []string{"globex", "initech", "hooli.example", "cn-2002-"} {
		assert.NotContains(t, s, foreign)
	}
	assert.Contains(t, s, "tenant.redaction.policy_version")
	assert.Contains(t, s, "hooligan", "word boundaries hold")
}

func TestSelfMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	lp, err := NewFactory().CreateLogs(context.Background(), set, testConfig(), new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(policy.Static{P: loadPolicy(t)})))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsFor("acme", "bob@globex.example paid with 4111 1111 1111 1111")))

	assert.Equal(t, map[string]int64{
		"otelcol_tenantredact_redactions class=foreign_tenant tenant=acme": 1,
		"otelcol_tenantredact_redactions class=email tenant=acme":          1,
		"otelcol_tenantredact_redactions class=credit_card tenant=acme":    1,
		"otelcol_tenantredact_records signal=logs tenant=acme":             1,
	}, selfMetrics(t, tel))
}

// selfMetrics reads the processor's counters as "name label=value...".
func selfMetrics(t *testing.T, tel *componenttest.Telemetry) map[string]int64 {
	got := map[string]int64{}
	for _, name := range []string{"otelcol_tenantredact_redactions", "otelcol_tenantredact_records"} {
		m, err := tel.GetMetric(name)
		require.NoError(t, err)
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			key := name
			for _, kv := range dp.Attributes.ToSlice() {
				key += " " + string(kv.Key) + "=" + kv.Value.AsString()
			}
			got[key] = dp.Value
		}
	}
	return got
}

// A tenant-defined rule is counted under its own name, in the audit
// attributes and the self-metrics.
func TestTenantRuleIsCountedUnderItsName(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := policy.Parse("p.yaml", []byte("tenants:\n  acme:\n    redaction:\n      rules:\n        order_id: {pattern: 'ORD-[0-9]{10}', keywords: [ORD-], action: hash}\n"))
	require.NoError(t, err)
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), set, testConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(policy.Static{P: p})))
	require.NoError(t, lp.ConsumeLogs(context.Background(), logsFor("acme", "order ORD-1234567890 shipped")))

	assert.Regexp(t, `^order <hash:k1:[0-9a-f]{32}> shipped$`, bodyOf(sink.AllLogs()[0]))
	cls, ok := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get("tenant.redaction.classes")
	require.True(t, ok)
	assert.Equal(t, []any{"order_id"}, cls.Slice().AsRaw())
	assert.Equal(t, map[string]int64{
		"otelcol_tenantredact_redactions class=order_id tenant=acme": 1,
		"otelcol_tenantredact_records signal=logs tenant=acme":       1,
	}, selfMetrics(t, tel))
}

// A reload takes effect on the next batch; a reload whose rules cannot be
// built keeps the previous rules.
func TestFollowsPolicyReload(t *testing.T) {
	prov := policytest.NewSwappable(loadPolicy(t))
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), testConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(prov)))
	ctx := context.Background()

	require.NoError(t, lp.ConsumeLogs(ctx, logsFor("acme", "see umbrella.example")))
	p2, err := policy.Parse("v2", []byte("tenants:\n  acme: {identifiers: [acme]}\n  umbrella: {identifiers: [umbrella.example]}\n"))
	require.NoError(t, err)
	prov.Store(p2)
	require.NoError(t, lp.ConsumeLogs(ctx, logsFor("acme", "see umbrella.example")))

	assert.Equal(t, "see umbrella.example", bodyOf(sink.AllLogs()[0]))
	assert.Equal(t, "see <redacted:foreign_tenant>", bodyOf(sink.AllLogs()[1]))
}

func TestStartNeedsHashKeyWhenPolicyHashes(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	err = lp.Start(context.Background(), newHost(policy.Static{P: loadPolicy(t)}))
	assert.ErrorContains(t, err, "active_hash_key")
}

func TestStartWithoutPolicyExtension(t *testing.T) {
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), testConfig(), new(consumertest.LogsSink))
	require.NoError(t, err)
	err = lp.Start(context.Background(), componenttest.NewNopHost())
	assert.ErrorContains(t, err, `extension "tenantpolicy" is not configured`)
}

var _ processor.Factory = NewFactory()
