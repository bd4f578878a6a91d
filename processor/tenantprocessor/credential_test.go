package tenantprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// A quarantined record whose request carried a tenant's key is counted
// against that tenant (a spoof made with acme's key shows on acme's
// dashboard); one without a verified identity is counted nowhere but the
// fleet's total.
func TestQuarantinedByCredential(t *testing.T) {
	lp, tel := startMeasured(t, nil, new(consumertest.LogsSink))

	acme := client.NewContext(context.Background(), client.Info{Auth: *verified("acme")})
	globex := client.NewContext(context.Background(), client.Info{Auth: *verified("globex")}) // suspended
	require.NoError(t, lp.ConsumeLogs(acme, buildLogs(t, []map[string]any{res("tenant.id", "initech"), res("tenant.id", "acme"), res()})))
	require.NoError(t, lp.ConsumeLogs(globex, buildLogs(t, []map[string]any{res()})))
	require.NoError(t, lp.ConsumeLogs(context.Background(), buildLogs(t, []map[string]any{res("tenant.id", "initech")})))

	m, err := tel.GetMetric("otelcol_tenant_records_quarantined_by_credential")
	require.NoError(t, err)
	got := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		key := ""
		for _, kv := range dp.Attributes.ToSlice() {
			key += string(kv.Key) + "=" + kv.Value.AsString() + " "
		}
		got[key] = dp.Value
	}
	assert.Equal(t, map[string]int64{
		"reason=spoofed signal=logs tenant=acme ":     2,
		"reason=suspended signal=logs tenant=globex ": 2,
	}, got)
}

// startMeasured starts a logs processor of the test policy, trusting
// trusted, whose self-metrics tel reads.
func startMeasured(t *testing.T, trusted []component.ID, next consumer.Logs) (processor.Logs, *componenttest.Telemetry) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	cfg.TrustedReceivers = trusted
	lp, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
	return lp, tel
}
