package tenantprocessor

import (
	"context"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

const testSecret = "0123456789abcdef"

func newHost(_ testing.TB, p *policy.Policy) component.Host {
	return policytest.NewHost(policy.Static{P: p}, nil)
}

func loadTestPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Load("testdata/tenants.yaml")
	require.NoError(t, err)
	return p
}

type goldenCase struct {
	name          string
	auth          *identity.AuthData
	metadata      map[string][]string
	allowClaims   bool
	trustedHeader string
	resources     []map[string]any
	// want is the decision for each resource: a tenant, or
	// "_quarantine/<reason>/<tenant.claimed>".
	want []string
}

func verified(id string) *identity.AuthData {
	return &identity.AuthData{Tenant: id, Source: identity.SourceAPIKey}
}

func res(kv ...any) map[string]any {
	m := map[string]any{"service.name": "checkout"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

var goldenCases = []goldenCase{
	{name: "verified", auth: verified("acme"), resources: []map[string]any{res()}, want: []string{"acme"}},
	{name: "verified_matching_claim", auth: verified("acme"), resources: []map[string]any{res("tenant.id", "acme")}, want: []string{"acme"}},
	{name: "verified_strips_client_tenant_attrs", auth: verified("acme"),
		resources: []map[string]any{res("tenant.fingerprint", "forged", "tenant.quarantine.reason", "none", "tenant.claimed", "x")},
		want:      []string{"acme"}},
	{name: "trusted_header_auth", auth: &identity.AuthData{Tenant: "initech", Source: identity.SourceTrustedHeader},
		resources: []map[string]any{res()}, want: []string{"initech"}},
	{name: "trusted_header_metadata", trustedHeader: "X-Scope-OrgID", metadata: map[string][]string{"X-Scope-OrgID": {"initech"}},
		resources: []map[string]any{res()}, want: []string{"initech"}},
	{name: "untrusted_header_ignored", metadata: map[string][]string{"X-Scope-OrgID": {"initech"}},
		resources: []map[string]any{res()}, want: []string{"_quarantine/missing/"}},
	{name: "claim_allowed", allowClaims: true, resources: []map[string]any{res("tenant.id", "acme")}, want: []string{"acme"}},
	{name: "claim_refused", resources: []map[string]any{res("tenant.id", "acme")}, want: []string{"_quarantine/unverified/acme"}},
	{name: "spoof", auth: verified("acme"), resources: []map[string]any{res("tenant.id", "globex")}, want: []string{"_quarantine/spoofed/globex"}},
	{name: "spoof_over_trusted_header", auth: &identity.AuthData{Tenant: "initech", Source: identity.SourceTrustedHeader},
		resources: []map[string]any{res("tenant.id", "acme")}, want: []string{"_quarantine/spoofed/acme"}},
	{name: "unknown_verified", auth: verified("hooli"), resources: []map[string]any{res()}, want: []string{"_quarantine/unknown/hooli"}},
	{name: "unknown_claim", allowClaims: true, resources: []map[string]any{res("tenant.id", "hooli")}, want: []string{"_quarantine/unknown/hooli"}},
	{name: "suspended", auth: verified("globex"), resources: []map[string]any{res()}, want: []string{"_quarantine/suspended/globex"}},
	{name: "missing", resources: []map[string]any{res()}, want: []string{"_quarantine/missing/"}},
	{name: "reserved_claim", allowClaims: true, resources: []map[string]any{res("tenant.id", "_governance")}, want: []string{"_quarantine/reserved/_governance"}},
	{name: "malformed_claims", allowClaims: true, resources: []map[string]any{
		res("tenant.id", strings.Repeat("a", 151)),
		res("tenant.id", ".."),
		res("tenant.id", "acme/../globex"),
		res("tenant.id", "acme corp"),
		res("tenant.id", "acmé"),
		res("tenant.id", ""),
		res("tenant.id", int64(42)),
	}, want: []string{
		"_quarantine/malformed/" + strings.Repeat("a", 151),
		"_quarantine/malformed/..",
		"_quarantine/malformed/acme/../globex",
		"_quarantine/malformed/acme corp",
		"_quarantine/malformed/acmé",
		"_quarantine/malformed/",
		"_quarantine/malformed/42",
	}},
	{name: "mixed_request", allowClaims: true, resources: []map[string]any{
		res("tenant.id", "acme"), res("tenant.id", "initech"), res("tenant.id", "globex"), res(), res("tenant.id", "hooli"),
	}, want: []string{"acme", "initech", "_quarantine/suspended/globex", "_quarantine/missing/", "_quarantine/unknown/hooli"}},
	{name: "mixed_request_verified", auth: verified("acme"), resources: []map[string]any{
		res("tenant.id", "acme"), res(), res("tenant.id", "initech"),
	}, want: []string{"acme", "acme", "_quarantine/spoofed/initech"}},
}

func (c goldenCase) context() context.Context {
	info := client.Info{Metadata: client.NewMetadata(c.metadata)}
	if c.auth != nil {
		info.Auth = *c.auth
	}
	return client.NewContext(context.Background(), info)
}

func (c goldenCase) config() *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	cfg.AllowUnverifiedClaims = c.allowClaims
	cfg.TrustedHeader = c.trustedHeader
	return cfg
}

// fillResource sets attrs in key order, so golden files are stable.
func fillResource(t *testing.T, r pcommon.Resource, attrs map[string]any) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		require.NoError(t, r.Attributes().PutEmpty(k).FromRaw(attrs[k]))
	}
}

var ts = pcommon.Timestamp(1_764_115_200_000_000_000)

func buildLogs(t *testing.T, resources []map[string]any) plog.Logs {
	ld := plog.NewLogs()
	for _, attrs := range resources {
		rl := ld.ResourceLogs().AppendEmpty()
		fillResource(t, rl.Resource(), attrs)
		sl := rl.ScopeLogs().AppendEmpty()
		for i := 0; i < 2; i++ {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(ts)
			lr.Body().SetStr("order placed")
		}
	}
	return ld
}

func buildMetrics(t *testing.T, resources []map[string]any) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, attrs := range resources {
		rm := md.ResourceMetrics().AppendEmpty()
		fillResource(t, rm.Resource(), attrs)
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("orders")
		g := m.SetEmptyGauge()
		for i := 0; i < 2; i++ {
			dp := g.DataPoints().AppendEmpty()
			dp.SetTimestamp(ts)
			dp.SetIntValue(int64(i))
		}
	}
	return md
}

func buildTraces(t *testing.T, resources []map[string]any) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, attrs := range resources {
		rs := td.ResourceSpans().AppendEmpty()
		fillResource(t, rs.Resource(), attrs)
		ss := rs.ScopeSpans().AppendEmpty()
		for i := 0; i < 2; i++ {
			sp := ss.Spans().AppendEmpty()
			sp.SetName("place-order")
			sp.SetTraceID(pcommon.TraceID{1, 2, 3})
			sp.SetSpanID(pcommon.SpanID{byte(i + 1)})
			sp.SetStartTimestamp(ts)
			sp.SetEndTimestamp(ts + 1000)
		}
	}
	return td
}

// decisions reads back what the processor stamped on each resource. It
// checks each resource's lineage (checkLineage) and removes it, as it
// differs on every run, so the golden files hold the rest.
func decisions(t *testing.T, secret string, attrsOf func(int) pcommon.Map, n int) []string {
	var out []string
	lineageID := ""
	for i := 0; i < n; i++ {
		attrs := attrsOf(i)
		lid := checkLineage(t, attrs).ID
		if lineageID == "" {
			lineageID = lid
		}
		assert.Equal(t, lineageID, lid, "one request, one lineage id on each resource")
		attrs.Remove(identity.AttrLineage)
		id, ok := attrs.Get(identity.AttrTenantID)
		require.True(t, ok, "resource %d has no tenant.id", i)
		fp, ok := attrs.Get(identity.AttrFingerprint)
		require.True(t, ok, "resource %d has no tenant.fingerprint", i)
		assert.Equal(t, identity.Fingerprint([]byte(secret), id.Str()), fp.Str())
		if id.Str() != policy.Quarantine {
			_, hasReason := attrs.Get(identity.AttrQuarantineReason)
			assert.False(t, hasReason, "an accepted resource carries no quarantine reason")
			out = append(out, id.Str())
			continue
		}
		reason, _ := attrs.Get(identity.AttrQuarantineReason)
		claimed := ""
		if v, ok := attrs.Get(identity.AttrClaimed); ok {
			claimed = v.AsString()
		}
		out = append(out, "_quarantine/"+reason.Str()+"/"+claimed)
	}
	return out
}

// TestGolden compares what each signal's processor passes on with
// testdata/golden/<case>/{logs,metrics,traces}.yaml. To regenerate after an
// intended change, do as contrib's pkg/golden says: add
// golden.WriteLogs(t, path, got) (WriteTraces, or WriteMetrics with
// golden.SkipMetricTimestampNormalization()) before the read, run the test
// once (it fails on purpose), remove the call and review the diff.
func TestGolden(t *testing.T) {
	pol := loadTestPolicy(t)
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			host := newHost(t, pol)
			ctx := c.context()
			set := processortest.NewNopSettings(metadata.Type)
			dir := filepath.Join("testdata", "golden", c.name)

			logSink := new(consumertest.LogsSink)
			lp, err := NewFactory().CreateLogs(context.Background(), set, c.config(), logSink)
			require.NoError(t, err)
			require.NoError(t, lp.Start(context.Background(), host))
			require.NoError(t, lp.ConsumeLogs(ctx, buildLogs(t, c.resources)))
			require.Len(t, logSink.AllLogs(), 1)
			gotLogs := logSink.AllLogs()[0]
			assert.Equal(t, c.want, decisions(t, testSecret, func(i int) pcommon.Map {
				return gotLogs.ResourceLogs().At(i).Resource().Attributes()
			}, gotLogs.ResourceLogs().Len()), "logs")
			wantLogs, err := golden.ReadLogs(filepath.Join(dir, "logs.yaml"))
			require.NoError(t, err)
			require.NoError(t, plogtest.CompareLogs(wantLogs, gotLogs))

			metricSink := new(consumertest.MetricsSink)
			mp, err := NewFactory().CreateMetrics(context.Background(), set, c.config(), metricSink)
			require.NoError(t, err)
			require.NoError(t, mp.Start(context.Background(), host))
			require.NoError(t, mp.ConsumeMetrics(ctx, buildMetrics(t, c.resources)))
			gotMetrics := metricSink.AllMetrics()[0]
			assert.Equal(t, c.want, decisions(t, testSecret, func(i int) pcommon.Map {
				return gotMetrics.ResourceMetrics().At(i).Resource().Attributes()
			}, gotMetrics.ResourceMetrics().Len()), "metrics")
			wantMetrics, err := golden.ReadMetrics(filepath.Join(dir, "metrics.yaml"))
			require.NoError(t, err)
			// golden.WriteMetrics sorts resources by their attributes; the
			// decisions above hold the metrics' resource order.
			require.NoError(t, pmetrictest.CompareMetrics(wantMetrics, gotMetrics, pmetrictest.IgnoreResourceMetricsOrder()))

			traceSink := new(consumertest.TracesSink)
			tp, err := NewFactory().CreateTraces(context.Background(), set, c.config(), traceSink)
			require.NoError(t, err)
			require.NoError(t, tp.Start(context.Background(), host))
			require.NoError(t, tp.ConsumeTraces(ctx, buildTraces(t, c.resources)))
			gotTraces := traceSink.AllTraces()[0]
			assert.Equal(t, c.want, decisions(t, testSecret, func(i int) pcommon.Map {
				return gotTraces.ResourceSpans().At(i).Resource().Attributes()
			}, gotTraces.ResourceSpans().Len()), "traces")
			wantTraces, err := golden.ReadTraces(filepath.Join(dir, "traces.yaml"))
			require.NoError(t, err)
			require.NoError(t, ptracetest.CompareTraces(wantTraces, gotTraces))
		})
	}
}

func TestSelfMetrics(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	cfg.AllowUnverifiedClaims = true
	lp, err := NewFactory().CreateLogs(context.Background(), set, cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
	in := buildLogs(t, []map[string]any{res("tenant.id", "acme"), res("tenant.id", "acme"), res("tenant.id", "globex"), res()})
	require.NoError(t, lp.ConsumeLogs(context.Background(), in))

	got := map[string]int64{}
	for _, name := range []string{"otelcol_tenant_records_accepted", "otelcol_tenant_records_quarantined"} {
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
	assert.Equal(t, map[string]int64{
		"otelcol_tenant_records_accepted signal=logs tenant=acme":         4,
		"otelcol_tenant_records_quarantined reason=suspended signal=logs": 2,
		"otelcol_tenant_records_quarantined reason=missing signal=logs":   2,
	}, got)
}

func TestStartWithoutPolicyExtension(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	err = lp.Start(context.Background(), componenttest.NewNopHost())
	assert.ErrorContains(t, err, `extension "tenantpolicy" is not configured`)
}

// The policy can change between batches; each batch sees one whole policy.
func TestFollowsPolicyReload(t *testing.T) {
	prov := policytest.NewSwappable(loadTestPolicy(t))
	host := policytest.NewHost(prov, nil)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), host))
	ctx := client.NewContext(context.Background(), client.Info{Auth: *verified("hooli")})

	require.NoError(t, lp.ConsumeLogs(ctx, buildLogs(t, []map[string]any{res()})))
	p2, err := policy.Parse("v2", []byte("tenants: {hooli: {}}\n"))
	require.NoError(t, err)
	prov.Store(p2)
	require.NoError(t, lp.ConsumeLogs(ctx, buildLogs(t, []map[string]any{res()})))

	first, _ := sink.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrTenantID)
	second, _ := sink.AllLogs()[1].ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrTenantID)
	assert.Equal(t, policy.Quarantine, first.Str())
	assert.Equal(t, "hooli", second.Str())
}

// The collector creates one instance per pipeline, each with its own
// meter. The instances of one id share their counters, registered once
// (with the first instance's meter), so every signal is reported.
func TestSignalInstancesShareCounters(t *testing.T) {
	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	tels := make([]*componenttest.Telemetry, 3)
	settings := func(i int) processor.Settings {
		tels[i] = componenttest.NewTelemetry()
		t.Cleanup(func() { _ = tels[i].Shutdown(context.Background()) })
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tels[i].NewTelemetrySettings()
		return set
	}
	ctx := context.Background()
	lp, err := f.CreateLogs(ctx, settings(0), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	mp, err := f.CreateMetrics(ctx, settings(1), cfg, new(consumertest.MetricsSink))
	require.NoError(t, err)
	tp, err := f.CreateTraces(ctx, settings(2), cfg, new(consumertest.TracesSink))
	require.NoError(t, err)
	host := newHost(t, loadTestPolicy(t))
	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Start(ctx, host))
	}
	acme := []map[string]any{res("tenant.id", "acme")}
	withAuth := client.NewContext(ctx, client.Info{Auth: *verified("acme")})
	require.NoError(t, lp.ConsumeLogs(withAuth, buildLogs(t, acme)))
	require.NoError(t, mp.ConsumeMetrics(withAuth, buildMetrics(t, acme)))
	require.NoError(t, tp.ConsumeTraces(withAuth, buildTraces(t, acme)))

	m, err := tels[0].GetMetric("otelcol_tenant_records_accepted")
	require.NoError(t, err)
	signals := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		s, _ := dp.Attributes.Value("signal")
		signals[s.AsString()] += dp.Value
	}
	assert.Equal(t, map[string]int64{"logs": 2, "metrics": 2, "traces": 2}, signals)

	// Shutting every instance down releases the shared processor: the next
	// pipeline build (a config reload) gets a fresh one.
	for _, c := range []component.Component{lp, mp, tp} {
		require.NoError(t, c.Shutdown(ctx))
	}
	lp2, err := f.CreateLogs(ctx, settings(0), cfg, new(consumertest.LogsSink))
	require.NoError(t, err)
	require.NoError(t, lp2.Start(ctx, host))
	require.NoError(t, lp2.ConsumeLogs(withAuth, buildLogs(t, acme)))
	m, err = tels[0].GetMetric("otelcol_tenant_records_accepted")
	require.NoError(t, err)
	require.Len(t, m.Data.(metricdata.Sum[int64]).DataPoints, 1)
	assert.Equal(t, int64(2), m.Data.(metricdata.Sum[int64]).DataPoints[0].Value, "a new processor counts from zero on its new meter")
	require.NoError(t, lp2.Shutdown(ctx))
}
