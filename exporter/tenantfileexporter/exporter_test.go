package tenantfileexporter

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/exporter/tenantfileexporter/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

// testPolicy declares acme and globex, and hooli suspended.
func testPolicy(t *testing.T) *policy.Policy {
	p, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme: {}\n  globex: {}\n  hooli: {status: suspended}\n"))
	require.NoError(t, err)
	return p
}

func startWith(t *testing.T, c component.Component) {
	t.Helper()
	require.NoError(t, c.Start(context.Background(), policytest.NewHost(policy.Static{P: testPolicy(t)}, nil)))
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for id, wantErr := range map[component.ID]string{
		component.NewID(metadata.Type):                   "",
		component.NewIDWithName(metadata.Type, "empty"):  "directory: must name the folder that holds one folder per tenant",
		component.NewIDWithName(metadata.Type, "policy"): "",
	} {
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(id.String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		if wantErr == "" {
			require.NoError(t, confmap.Validate(cfg))
			want := &Config{Directory: "./out", Policy: policytest.ExtensionID}
			if id.Name() == "policy" {
				want.Policy = component.MustNewIDWithName("tenantpolicy", "edge")
			}
			assert.Equal(t, want, cfg)
		} else {
			assert.EqualError(t, confmap.Validate(cfg), wantErr)
		}
	}
}

func read(t *testing.T, dir, tenant, signal string) string {
	b, err := os.ReadFile(filepath.Join(dir, tenant, signal+".jsonl"))
	require.NoError(t, err)
	return string(b)
}

func TestSplitsByTenantAndQuarantinesTheRest(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := &Config{Directory: dir, Policy: policytest.ExtensionID}
	set := exportertest.NewNopSettings(metadata.Type)

	ld := plog.NewLogs()
	for _, tc := range []struct{ tenant, body string }{
		{"acme", "acme-1"}, {"globex", "globex-1"}, {"acme", "acme-2"},
		{"", "unstamped"}, {"../../etc", "escape"}, {"_other", "reserved"}, {"_governance", "governance"},
	} {
		rl := ld.ResourceLogs().AppendEmpty()
		if tc.tenant != "" {
			rl.Resource().Attributes().PutStr("tenant.id", tc.tenant)
		}
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(tc.body)
	}
	le, err := NewFactory().CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	startWith(t, le)
	require.NoError(t, le.ConsumeLogs(ctx, ld))
	require.NoError(t, le.Shutdown(ctx))

	acme := read(t, dir, "acme", "logs")
	assert.Equal(t, 1, strings.Count(acme, "\n"), "one request line per tenant per batch")
	assert.Contains(t, acme, "acme-1")
	assert.Contains(t, acme, "acme-2")
	assert.NotContains(t, acme, "globex")
	globex := read(t, dir, "globex", "logs")
	assert.Contains(t, globex, "globex-1")
	assert.NotContains(t, globex, "acme")
	q := read(t, dir, "_quarantine", "logs")
	for _, b := range []string{"unstamped", "escape", "reserved"} {
		assert.Contains(t, q, b)
	}
	assert.Contains(t, q, `"no_tenant"`)
	assert.Contains(t, q, `"invalid_id"`)
	assert.Contains(t, read(t, dir, "_governance", "logs"), "governance")

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"acme", "globex", "_quarantine", "_governance"}, names, "nothing escaped the directory")
	_, err = os.Stat(filepath.Join(dir, "..", "..", "etc", "logs.jsonl"))
	assert.True(t, os.IsNotExist(err))

	// The input batch is not modified (the exporter copies before it marks).
	_, marked := ld.ResourceLogs().At(3).Resource().Attributes().Get("tenant.quarantine.reason")
	assert.False(t, marked)
}

func TestMetricsAndTraces(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := &Config{Directory: dir, Policy: policytest.ExtensionID}
	set := exportertest.NewNopSettings(metadata.Type)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("tenant.id", "acme")
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("acme_orders")
	me, err := NewFactory().CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	startWith(t, me)
	require.NoError(t, me.ConsumeMetrics(ctx, md))
	require.NoError(t, me.Shutdown(ctx))
	assert.Contains(t, read(t, dir, "acme", "metrics"), "acme_orders")

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutInt("tenant.id", 7)
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("int-tenant")
	te, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	startWith(t, te)
	require.NoError(t, te.ConsumeTraces(ctx, td))
	require.NoError(t, te.Shutdown(ctx))
	assert.Contains(t, read(t, dir, "_quarantine", "traces"), "int-tenant", "a non-string tenant.id is not a tenant")
}

// hostileResources are OTLP/JSON resources, each with one record (log,
// data point or span, as item builds it) named by its case: a repeated
// tenant.id both ways round, a suspended, an unknown and a declared tenant.
func hostileResources(item string) string {
	res := func(attrs string) string {
		return `{"resource":{"attributes":[` + attrs + `]},` + item + `}`
	}
	id := func(v string) string { return `{"key":"tenant.id","value":{"stringValue":"` + v + `"}}` }
	name := func(v string) string { return `{"key":"case","value":{"stringValue":"` + v + `"}}` }
	return strings.Join([]string{
		res(id("globex") + "," + id("acme") + "," + name("repeated-ga")),
		res(id("acme") + "," + id("globex") + "," + name("repeated-ag")),
		res(id("hooli") + "," + name("suspended")),
		res(id("initech") + "," + name("unknown")),
		res(id("acme") + "," + name("declared")),
	}, ",")
}

// TestOnlyDeclaredActiveTenantsGetFiles: for every signal, a resource
// naming two tenants, a suspended tenant and an unknown one go to the
// quarantine with their reason and claims; only the declared, active
// tenant gets a folder.
func TestOnlyDeclaredActiveTenantsGetFiles(t *testing.T) {
	ctx := context.Background()
	set := exportertest.NewNopSettings(metadata.Type)
	for _, signal := range []string{"logs", "metrics", "traces"} {
		t.Run(signal, func(t *testing.T) {
			dir := t.TempDir()
			cfg := &Config{Directory: dir, Policy: policytest.ExtensionID}
			var c component.Component
			var consume func() error
			switch signal {
			case "logs":
				ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[` +
					hostileResources(`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"r"}}]}]`) + `]}`))
				require.NoError(t, err)
				e, err := NewFactory().CreateLogs(ctx, set, cfg)
				require.NoError(t, err)
				c, consume = e, func() error { return e.ConsumeLogs(ctx, ld) }
			case "metrics":
				md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(`{"resourceMetrics":[` +
					hostileResources(`"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1"}]}}]}]`) + `]}`))
				require.NoError(t, err)
				e, err := NewFactory().CreateMetrics(ctx, set, cfg)
				require.NoError(t, err)
				c, consume = e, func() error { return e.ConsumeMetrics(ctx, md) }
			case "traces":
				td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(`{"resourceSpans":[` +
					hostileResources(`"scopeSpans":[{"spans":[{"name":"s","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]}]`) + `]}`))
				require.NoError(t, err)
				e, err := NewFactory().CreateTraces(ctx, set, cfg)
				require.NoError(t, err)
				c, consume = e, func() error { return e.ConsumeTraces(ctx, td) }
			}
			startWith(t, c)
			require.NoError(t, consume())
			require.NoError(t, c.Shutdown(ctx))

			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			assert.ElementsMatch(t, []string{"acme", "_quarantine"}, names, "no file for globex, hooli or initech")
			acme := read(t, dir, "acme", signal)
			assert.Contains(t, acme, "declared")
			assert.NotContains(t, acme, "repeated")

			got := map[string][3]string{} // case -> tenant.id, reason, claimed
			for _, line := range strings.Split(strings.TrimSpace(read(t, dir, "_quarantine", signal)), "\n") {
				for _, res := range resourcesOf(t, signal, line) {
					cs, _ := res.Get("case")
					id, _ := identity.TenantOf(res)
					reason, _ := res.Get(identity.AttrQuarantineReason)
					claimed, _ := res.Get(identity.AttrClaimed)
					got[cs.Str()] = [3]string{id, reason.Str(), claimed.Str()}
				}
			}
			assert.Equal(t, map[string][3]string{
				"repeated-ga": {"_quarantine", identity.ReasonMalformed, "globex,acme"},
				"repeated-ag": {"_quarantine", identity.ReasonMalformed, "acme,globex"},
				"suspended":   {"_quarantine", identity.ReasonSuspended, "hooli"},
				"unknown":     {"_quarantine", identity.ReasonUnknown, "initech"},
			}, got)
		})
	}
}

// resourcesOf reads one line of a signal's file back as its resources'
// attributes.
func resourcesOf(t *testing.T, signal, line string) []pcommon.Map {
	var out []pcommon.Map
	switch signal {
	case "logs":
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(line))
		require.NoError(t, err)
		for _, rl := range ld.ResourceLogs().All() {
			out = append(out, rl.Resource().Attributes())
		}
	case "metrics":
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(line))
		require.NoError(t, err)
		for _, rm := range md.ResourceMetrics().All() {
			out = append(out, rm.Resource().Attributes())
		}
	case "traces":
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(line))
		require.NoError(t, err)
		for _, rs := range td.ResourceSpans().All() {
			out = append(out, rs.Resource().Attributes())
		}
	}
	return out
}

func TestStartNeedsThePolicy(t *testing.T) {
	e, err := NewFactory().CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), &Config{Directory: t.TempDir(), Policy: policytest.ExtensionID})
	require.NoError(t, err)
	assert.ErrorContains(t, e.Start(context.Background(), componenttest.NewNopHost()), `extension "tenantpolicy" is not configured`)
}
