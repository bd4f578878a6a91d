package tenantprocessor

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

// TestRelayedLineageIsBounded: a Kafka message's tenant.lineage is the
// edge's word only as far as an edge could have written it. One written
// into the topic directly, 1 MiB of a fact JSON escapes sixfold ('<' is
// \u003c) or 10,000 upstreams deep, was parsed and re-encoded whole: the
// processing tier allocated 54 MB for the 1 MiB value and put 6 MiB of
// lineage on the resource, which OTLP and Kafka backends received uncut
// (found by the hostile review of issue 14). An edge's lineage is a few
// hundred bytes: a value beyond maxUpstreamBytes is not one, and the
// request keeps its own lineage without an upstream.
func TestRelayedLineageIsBounded(t *testing.T) {
	cfg := goldenCase{}.config()
	cfg.TrustedReceivers = []component.ID{component.MustNewID("tenantkafka")}
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()

	edge := identity.Lineage{ID: "0190a1b2c3d470008000000000000001", Accepted: 7, Client: "198.51.100.9:4444", Tenant: "acme",
		Credential: "key:0123456789ab", Collector: strings.Repeat("edge-1.", 30), PolicyVersion: strings.Repeat("v", 64)}
	values := []string{
		edge.Encode(), // an edge's own, with a long collector name: kept
		`{"id":"a","collector":"` + strings.Repeat("<", 1<<20) + `"}`,
		strings.Repeat(`{"id":"a","upstream":`, 9990) + `{"id":"z"}` + strings.Repeat("}", 9990),
	}
	ld := plog.NewLogs()
	for _, v := range values {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrLineage, v)
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("relayed")
	}
	relayed := identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}
	require.NoError(t, lp.ConsumeLogs(client.NewContext(context.Background(), client.Info{Auth: relayed}), ld))
	got := sink.AllLogs()[0].ResourceLogs()
	for i := range values {
		v, _ := got.At(i).Resource().Attributes().Get(identity.AttrLineage)
		l := checkLineage(t, got.At(i).Resource().Attributes())
		if i == 0 {
			require.NotNil(t, l.Upstream, "an edge's lineage is kept")
			assert.Equal(t, edge, *l.Upstream)
			continue
		}
		assert.Less(t, len(v.Str()), 1024, "resource %d: %d bytes of lineage", i, len(v.Str()))
		assert.Nil(t, l.Upstream, "resource %d: no edge wrote this", i)
	}
}
