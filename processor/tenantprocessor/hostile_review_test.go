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
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// A trusted tenantkafka receiver vouches for whatever tenant its topic (or,
// with a shared topic, its record key) names, and nothing at the
// processing tier checks that name against the policy before the
// processor sees it. The per-credential quarantine series must still be
// bounded by the policy: 2,000 topics of tenants the policy does not
// declare, one a 4 KiB key, make no series of their own.
func TestKafkaTenantsOutsideThePolicyMakeNoSeries(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	cfg.TrustedReceivers = []component.ID{component.MustNewID("tenantkafka")}
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
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
