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
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/exporter/tenantfileexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for id, wantErr := range map[component.ID]string{
		component.NewID(metadata.Type):                  "",
		component.NewIDWithName(metadata.Type, "empty"): "directory: must name the folder that holds one folder per tenant",
	} {
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(id.String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		if wantErr == "" {
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, &Config{Directory: "./out"}, cfg)
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
	cfg := &Config{Directory: dir}
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
	require.NoError(t, le.Start(ctx, componenttest.NewNopHost()))
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
	cfg := &Config{Directory: dir}
	set := exportertest.NewNopSettings(metadata.Type)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("tenant.id", "acme")
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("acme_orders")
	me, err := NewFactory().CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, me.ConsumeMetrics(ctx, md))
	require.NoError(t, me.Shutdown(ctx))
	assert.Contains(t, read(t, dir, "acme", "metrics"), "acme_orders")

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutInt("tenant.id", 7)
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("int-tenant")
	te, err := NewFactory().CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	require.NoError(t, te.ConsumeTraces(ctx, td))
	require.NoError(t, te.Shutdown(ctx))
	assert.Contains(t, read(t, dir, "_quarantine", "traces"), "int-tenant", "a non-string tenant.id is not a tenant")
}
