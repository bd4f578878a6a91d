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
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

var lineageIDForm = regexp.MustCompile(`^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$`)

// checkLineage checks the shape of a resource's tenant.lineage and that
// its decision agrees with the tenant stamped; it returns the id.
func checkLineage(t *testing.T, attrs pcommon.Map) string {
	t.Helper()
	v, ok := attrs.Get(identity.AttrLineage)
	require.True(t, ok, "every resource carries its request's lineage")
	require.Equal(t, pcommon.ValueTypeMap, v.Type())
	m := v.Map()
	get := func(k string) string {
		x, _ := m.Get(k)
		return x.AsString()
	}
	assert.Regexp(t, lineageIDForm, get(identity.LineageID))
	assert.NotEmpty(t, get(identity.LineagePolicyVersion))
	assert.NotEmpty(t, get(identity.LineageCollector))
	acc, _ := m.Get(identity.LineageAccepted)
	assert.InDelta(t, time.Now().UnixNano(), acc.Int(), float64(time.Minute))
	tenant, _ := attrs.Get(identity.AttrTenantID)
	if tenant.Str() == policy.Quarantine {
		reason, _ := attrs.Get(identity.AttrQuarantineReason)
		assert.Equal(t, identity.DecisionQuarantinedPrefix+reason.Str(), get(identity.LineageDecision))
	} else {
		assert.Equal(t, identity.DecisionAccepted, get(identity.LineageDecision))
	}
	return get(identity.LineageID)
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
			fake := rl.Resource().Attributes().PutEmptyMap(identity.AttrLineage)
			fake.PutStr(identity.LineageID, "forged")
			fake.PutStr(identity.LineageDecision, identity.DecisionAccepted)
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
			id := checkLineage(t, attrs)
			if i == 0 {
				reqID = id
			}
			assert.Equal(t, reqID, id)
			_, dotted := attrs.Get(identity.AttrLineage + ".id")
			assert.False(t, dotted, "a client's tenant.lineage.* key is removed")
			v, _ := attrs.Get(identity.AttrLineage)
			m := v.Map().AsRaw()
			assert.Equal(t, "acme", m[identity.LineageTenant])
			assert.Equal(t, "key:0123456789ab", m[identity.LineageCredential])
			assert.Equal(t, "api_key", m[identity.LineageAuth])
			assert.Equal(t, "192.0.2.7:5555", m[identity.LineageClient])
			assert.Equal(t, "collector-7", m[identity.LineageCollector])
			assert.Equal(t, pol.Version, m[identity.LineagePolicyVersion])
			lr := rl.ScopeLogs().At(0).LogRecords().At(0)
			_, onRecord := lr.Attributes().Get(identity.AttrLineage)
			assert.False(t, onRecord, "a client's tenant.lineage on a record is removed")
		}
		assert.Equal(t, "quarantined:spoofed", func() string {
			v, _ := ld.ResourceLogs().At(1).Resource().Attributes().Get(identity.AttrLineage)
			d, _ := v.Map().Get(identity.LineageDecision)
			return d.Str()
		}())
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
