package tenantprocessor

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

var lineageIDForm = regexp.MustCompile(`^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$`)

// checkLineage checks the shape of a resource's tenant.lineage; it
// returns the lineage.
func checkLineage(t *testing.T, attrs pcommon.Map) identity.Lineage {
	t.Helper()
	v, ok := attrs.Get(identity.AttrLineage)
	require.True(t, ok, "every resource carries its request's lineage")
	require.Equal(t, pcommon.ValueTypeStr, v.Type())
	l, ok := identity.ParseLineage(v.Str())
	require.True(t, ok, v.Str())
	assert.Regexp(t, lineageIDForm, l.ID)
	assert.Equal(t, l.ID, identity.LineageIDOf(v.Str()))
	assert.NotEmpty(t, l.PolicyVersion)
	assert.NotEmpty(t, l.Collector)
	assert.InDelta(t, time.Now().UnixNano(), l.Accepted, float64(time.Minute))
	return l
}

// A request's lineage names its sender, credential, client, collector and
// policy; a client's own tenant.lineage (a forged id, at the resource or
// on a record) never survives; each request gets a new id.
func TestLineageFactsAndForgery(t *testing.T) {
	pol := loadTestPolicy(t)
	host := newHost(t, pol)
	set := processortest.NewNopSettings(metadata.Type)
	set.Resource = pcommon.NewResource()
	set.Resource.Attributes().PutStr("service.instance.id", "collector-7")
	sink := new(consumertest.LogsSink)
	lp, err := NewFactory().CreateLogs(context.Background(), set, goldenCase{}.config(), sink)
	require.NoError(t, err)
	require.NoError(t, lp.Start(context.Background(), host))
	defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()

	ctx := identity.WithAuth(context.Background(), identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey, Credential: "key:0123456789ab"})
	info := client.FromContext(ctx)
	info.Addr = &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5555}
	ctx = client.NewContext(ctx, info)

	forged := func() plog.Logs {
		ld := plog.NewLogs()
		for _, claim := range []string{"", "initech"} {
			rl := ld.ResourceLogs().AppendEmpty()
			if claim != "" {
				rl.Resource().Attributes().PutStr(identity.AttrTenantID, claim)
			}
			rl.Resource().Attributes().PutStr(identity.AttrLineage, identity.Lineage{ID: "forged", Tenant: "globex"}.Encode())
			rl.Resource().Attributes().PutStr(identity.AttrLineage+".id", "forged")
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.Attributes().PutStr(identity.AttrLineage, "forged")
			lr.Body().SetStr("hello")
		}
		return ld
	}
	require.NoError(t, lp.ConsumeLogs(ctx, forged()))
	require.NoError(t, lp.ConsumeLogs(ctx, forged()))
	require.Len(t, sink.AllLogs(), 2)

	ids := map[string]bool{}
	for _, ld := range sink.AllLogs() {
		var reqID string
		for i, rl := range ld.ResourceLogs().All() {
			attrs := rl.Resource().Attributes()
			l := checkLineage(t, attrs)
			if i == 0 {
				reqID = l.ID
			}
			assert.Equal(t, reqID, l.ID)
			_, dotted := attrs.Get(identity.AttrLineage + ".id")
			assert.False(t, dotted, "a client's tenant.lineage.* key is removed")
			assert.Equal(t, identity.Lineage{ID: l.ID, Accepted: l.Accepted, Auth: "api_key", Client: "192.0.2.7:5555", Tenant: "acme",
				Credential: "key:0123456789ab", Collector: "collector-7", PolicyVersion: pol.Version}, l)
			lr := rl.ScopeLogs().At(0).LogRecords().At(0)
			_, onRecord := lr.Attributes().Get(identity.AttrLineage)
			assert.False(t, onRecord, "a client's tenant.lineage on a record is removed")
		}
		tenant, _ := ld.ResourceLogs().At(1).Resource().Attributes().Get(identity.AttrTenantID)
		assert.Equal(t, policy.Quarantine, tenant.Str(), "the spoof is quarantined, and carries the same lineage")
		assert.False(t, ids[reqID], "each request gets its own lineage id")
		ids[reqID] = true
	}
}

func TestLineageIDsSortByTime(t *testing.T) {
	a := newLineageID(time.Unix(1000, 0))
	b := newLineageID(time.Unix(1001, 0))
	assert.Regexp(t, lineageIDForm, a)
	assert.Less(t, a, b)
	assert.NotEqual(t, newLineageID(time.Unix(1000, 0)), a)
	assert.False(t, strings.Contains(a, "-"))
}

// Relayed by a trusted receiver (the edge's Kafka topic), a resource's
// lineage is the edge's word: it becomes the upstream of this request's,
// each resource its own. From anyone else it is a claim, and goes.
func TestLineageUpstreamFromTrustedReceiver(t *testing.T) {
	relayed := identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}
	edge := []identity.Lineage{
		{ID: "0190a1b2c3d470008000000000000001", Accepted: 7, Client: "198.51.100.9:4444", Tenant: "acme", Credential: "key:0123456789ab", Collector: "edge-1",
			Upstream: &identity.Lineage{ID: "deeper"}},
		{ID: "0190a1b2c3d470008000000000000002", Accepted: 8, Client: "198.51.100.10:5555", Tenant: "acme", Credential: "key:0123456789ab", Collector: "edge-2"},
	}
	for _, tc := range []struct {
		name    string
		trusted []component.ID
	}{{"trusted", []component.ID{component.MustNewID("tenantkafka")}}, {"not_trusted", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goldenCase{}.config()
			cfg.TrustedReceivers = tc.trusted
			cfg.AllowUnverifiedClaims = true
			sink := new(consumertest.LogsSink)
			lp, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, lp.Start(context.Background(), newHost(t, loadTestPolicy(t))))
			defer func() { require.NoError(t, lp.Shutdown(context.Background())) }()
			ld := plog.NewLogs()
			for _, i := range []int{0, 1, 0} {
				rl := ld.ResourceLogs().AppendEmpty()
				rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
				rl.Resource().Attributes().PutStr(identity.AttrLineage, edge[i].Encode())
				rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("relayed")
			}
			require.NoError(t, lp.ConsumeLogs(client.NewContext(context.Background(), client.Info{Auth: relayed}), ld))
			got := sink.AllLogs()[0]
			var own string
			for i, want := range []int{0, 1, 0} {
				l := checkLineage(t, got.ResourceLogs().At(i).Resource().Attributes())
				if own == "" {
					own = l.ID
				}
				assert.Equal(t, own, l.ID, "one request here")
				if tc.trusted == nil {
					assert.Nil(t, l.Upstream, "an untrusted receiver's lineage is a claim")
					continue
				}
				up := edge[want]
				up.Upstream = nil
				require.NotNil(t, l.Upstream)
				assert.Equal(t, up, *l.Upstream, "resource %d: its own upstream, one level", i)
				assert.Equal(t, "topic:tenancy.acme.logs", l.Credential)
			}
		})
	}
}
