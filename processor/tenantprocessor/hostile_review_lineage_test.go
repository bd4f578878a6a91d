package tenantprocessor

import (
	"context"
	"strconv"
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

// TestEdgeClientCannotPlantUpstream: a client at the edge sends a
// resource with tenant.lineage twice (an upstream naming globex, then a
// second copy) and on a record. Through the edge's tenant processor and a
// relay to the processing tier's (trusted receiver), the upstream the
// store would keep is the edge's own lineage of the request (acme, its
// key), and globex is named nowhere.
func TestEdgeClientCannotPlantUpstream(t *testing.T) {
	newProc := func(trusted []component.ID) (*consumertest.LogsSink, func(context.Context, plog.Logs) error) {
		cfg := goldenCase{}.config()
		cfg.TrustedReceivers = trusted
		sink := new(consumertest.LogsSink)
		lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
		require.NoError(t, err)
		require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
		t.Cleanup(func() { require.NoError(t, lp.Shutdown(context.Background())) })
		return sink, lp.ConsumeLogs
	}
	edgeSink, edge := newProc(nil)
	procSink, processing := newProc([]component.ID{component.MustNewID("tenantkafka")})

	planted := identity.Lineage{ID: "0190a1b2c3d470008000000000000009", Tenant: "globex", Credential: "key:globexglobex",
		Upstream: &identity.Lineage{ID: "0190a1b2c3d470008000000000000008", Tenant: "globex"}}.Encode()
	// OTLP lets a key repeat: both copies are the client's.
	q := strconv.Quote(planted)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.lineage","value":{"stringValue":` + q + `}},{"key":"tenant.lineage","value":{"stringValue":` + q + `}}]},` +
		`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"attributes":[{"key":"tenant.lineage","value":{"stringValue":` + q + `}}]}]}]}]}`))
	require.NoError(t, err)
	require.Equal(t, 2, ld.ResourceLogs().At(0).Resource().Attributes().Len())
	ctx := identity.WithAuth(context.Background(), identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey, Credential: "key:0123456789ab"})
	require.NoError(t, edge(ctx, ld))
	edgeOut := edgeSink.AllLogs()[0]
	edgeLineage := checkLineage(t, edgeOut.ResourceLogs().At(0).Resource().Attributes())
	assert.Equal(t, "acme", edgeLineage.Tenant)
	assert.Nil(t, edgeLineage.Upstream, "the client's upstream does not survive the edge")

	relayed := identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}
	require.NoError(t, processing(client.NewContext(context.Background(), client.Info{Auth: relayed}), edgeOut))
	out := procSink.AllLogs()[0].ResourceLogs().At(0)
	l := checkLineage(t, out.Resource().Attributes())
	require.NotNil(t, l.Upstream)
	assert.Equal(t, edgeLineage, *l.Upstream, "the upstream is the edge's word")
	v, _ := out.Resource().Attributes().Get(identity.AttrLineage)
	assert.NotContains(t, v.Str(), "globex")
	_, onRecord := out.ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(identity.AttrLineage)
	assert.False(t, onRecord)
}

// TestRelayedLineageOfAnotherTenantIsNoUpstream: an edge writes a
// resource into its tenant's topic only, with the lineage of the request
// that proved that tenant. A lineage in acme's topic that names globex (a
// record written into the topic directly, framing globex's key in acme's
// store) was kept as the upstream; it is not the edge's word, and the
// request keeps its own lineage without it. A lineage that proved no
// tenant (an unverified claim the edge allowed) is still kept.
func TestRelayedLineageOfAnotherTenantIsNoUpstream(t *testing.T) {
	cfg := goldenCase{}.config()
	cfg.TrustedReceivers = []component.ID{component.MustNewID("tenantkafka")}
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()

	ld := plog.NewLogs()
	for _, tenant := range []string{"globex", "", "acme"} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrLineage, identity.Lineage{ID: "0190a1b2c3d470008000000000000001", Tenant: tenant, Credential: "key:0123456789ab"}.Encode())
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("relayed")
	}
	relayed := identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}
	require.NoError(t, lp.ConsumeLogs(client.NewContext(context.Background(), client.Info{Auth: relayed}), ld))
	got := sink.AllLogs()[0].ResourceLogs()
	assert.Nil(t, checkLineage(t, got.At(0).Resource().Attributes()).Upstream, "globex's lineage in acme's topic")
	for i := 1; i < 3; i++ {
		l := checkLineage(t, got.At(i).Resource().Attributes())
		require.NotNil(t, l.Upstream, "resource %d", i)
	}
}
