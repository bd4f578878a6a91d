package tenantprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// A trusted tenantkafka receiver vouches for whatever tenant its topic (or,
// with a shared topic, its record key) names, and nothing at the
// processing tier checks that name against the policy before the
// processor sees it. The per-credential quarantine series must still be
// bounded by the policy: 2,000 topics of tenants the policy does not
// declare, one a 4 KiB key, make no series of their own.
func TestKafkaTenantsOutsideThePolicyMakeNoSeries(t *testing.T) {
	sink := new(consumertest.LogsSink)
	lp, tel := startMeasured(t, []component.ID{component.MustNewID("tenantkafka")}, sink)
	t.Cleanup(func() { require.NoError(t, lp.Shutdown(context.Background())) })

	from := func(tenant string) context.Context {
		return client.NewContext(context.Background(), client.Info{Auth: identity.AuthData{
			Tenant: tenant, Source: identity.SourceKafkaTopic, Credential: "topic:tenancy." + tenant + ".logs", Receiver: "tenantkafka",
		}})
	}
	for i := range 2000 {
		require.NoError(t, lp.ConsumeLogs(from(fmt.Sprintf("hooli%04d", i)), buildLogs(t, []map[string]any{res()})))
	}
	require.NoError(t, lp.ConsumeLogs(from(strings.Repeat("k", 4096)), buildLogs(t, []map[string]any{res()})))
	// A declared tenant's topic carrying a spoof is still counted against it.
	require.NoError(t, lp.ConsumeLogs(from("acme"), buildLogs(t, []map[string]any{res("tenant.id", "initech")})))

	for _, ld := range sink.AllLogs() {
		id, _ := ld.ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrTenantID)
		assert.NotEqual(t, "acme", id.Str())
	}
	m, err := tel.GetMetric("otelcol_tenant_records_quarantined_by_credential")
	require.NoError(t, err)
	tenants := map[string]bool{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		v, _ := dp.Attributes.Value("tenant")
		tenants[v.AsString()] = true
	}
	assert.True(t, tenants["acme"], "the declared tenant's topic is counted")
	assert.Len(t, tenants, 1, "only policy tenants are series")

	q, err := tel.GetMetric("otelcol_tenant_records_quarantined")
	require.NoError(t, err)
	var unknown int64
	for _, dp := range q.Data.(metricdata.Sum[int64]).DataPoints {
		if r, _ := dp.Attributes.Value("reason"); r.AsString() == "unknown" {
			unknown += dp.Value
		}
	}
	assert.Equal(t, int64(2*2000), unknown, "every record (two per resource) is still counted, by reason")
}

// A reload that takes a receiver out of trusted_receivers: the processor
// of the new config (same component id, same factory, as a collector
// reload has) no longer believes that receiver, in every signal; the old
// shared instance, stopped at its first Shutdown, is not handed out again.
func TestReloadDropsTrust(t *testing.T) {
	f := NewFactory()
	set := processortest.NewNopSettings(f.Type())
	set.ID = component.NewID(f.Type())
	kafka := client.NewContext(context.Background(), client.Info{Auth: identity.AuthData{
		Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka",
	}})
	run := func(trusted []component.ID) []string {
		cfg := f.CreateDefaultConfig().(*Config)
		cfg.FingerprintSecret = testSecret
		cfg.TrustedReceivers = trusted
		logs, metrics := new(consumertest.LogsSink), new(consumertest.MetricsSink)
		lp, err := f.CreateLogs(context.Background(), set, cfg, logs)
		require.NoError(t, err)
		mp, err := f.CreateMetrics(context.Background(), set, cfg, metrics)
		require.NoError(t, err)
		host := newHost(t, loadTestPolicy(t))
		require.NoError(t, lp.Start(context.Background(), host))
		require.NoError(t, mp.Start(context.Background(), host))
		require.NoError(t, lp.ConsumeLogs(kafka, buildLogs(t, []map[string]any{res()})))
		// The logs instance stops first; the metrics pipeline still drains.
		require.NoError(t, lp.Shutdown(context.Background()))
		require.NoError(t, mp.ConsumeMetrics(kafka, buildMetrics(t, []map[string]any{res()})))
		require.NoError(t, mp.Shutdown(context.Background()))
		l := logs.AllLogs()[0].ResourceLogs().At(0).Resource().Attributes()
		m := metrics.AllMetrics()[0].ResourceMetrics().At(0).Resource().Attributes()
		lt, _ := l.Get(identity.AttrTenantID)
		mt, _ := m.Get(identity.AttrTenantID)
		return []string{lt.Str(), mt.Str()}
	}
	assert.Equal(t, []string{"acme", "acme"}, run([]component.ID{component.MustNewID("tenantkafka")}))
	assert.Equal(t, []string{"_quarantine", "_quarantine"}, run(nil), "the new config's processor trusts no receiver")
	assert.Equal(t, []string{"acme", "acme"}, run([]component.ID{component.MustNewID("tenantkafka")}))
}
