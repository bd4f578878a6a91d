package tenantsplit

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func testPolicy(t testing.TB) *policy.Policy {
	pol, err := policy.Parse("p", []byte("tenants: {acme: {}, globex: {}, initech: {status: suspended}}\n"))
	require.NoError(t, err)
	return pol
}

func TestTenant(t *testing.T) {
	pol := testPolicy(t)
	for _, tc := range []struct {
		name           string
		set            func(pcommon.Map)
		tenant, reason string
		claimed        string
	}{
		{"declared", func(m pcommon.Map) { m.PutStr(identity.AttrTenantID, "acme") }, "acme", "", ""},
		{"undeclared", func(m pcommon.Map) { m.PutStr(identity.AttrTenantID, "hooli") }, policy.Quarantine, identity.ReasonUnknown, "hooli"},
		{"suspended", func(m pcommon.Map) { m.PutStr(identity.AttrTenantID, "initech") }, policy.Quarantine, identity.ReasonSuspended, "initech"},
		{"not a string", func(m pcommon.Map) { m.PutInt(identity.AttrTenantID, 7) }, policy.Quarantine, identity.ReasonMalformed, "7"},
		{"missing", func(m pcommon.Map) { m.PutStr("service.name", "x") }, policy.Quarantine, identity.ReasonNoTenant, ""},
		{"invalid", func(m pcommon.Map) { m.PutStr(identity.AttrTenantID, "../acme") }, policy.Quarantine, identity.ReasonInvalid, "../acme"},
		{"quarantine as is", func(m pcommon.Map) {
			m.PutStr(identity.AttrTenantID, policy.Quarantine)
			m.PutStr(identity.AttrQuarantineReason, "unverified")
		}, policy.Quarantine, "unverified", ""},
		{"governance as is", func(m pcommon.Map) { m.PutStr(identity.AttrTenantID, policy.Governance) }, policy.Governance, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := pcommon.NewMap()
			tc.set(m)
			assert.Equal(t, tc.tenant, Tenant(pol, m))
			id, _ := m.Get(identity.AttrTenantID)
			assert.Equal(t, tc.tenant, id.Str(), "the resource says where it went")
			reason, _ := m.Get(identity.AttrQuarantineReason)
			assert.Equal(t, tc.reason, reason.Str())
			claimed, _ := m.Get(identity.AttrClaimed)
			assert.Equal(t, tc.claimed, claimed.Str())
		})
	}
}

// A repeated tenant.id (OTLP lets a key repeat; pcommon keeps both) is
// neither tenant's, whichever comes first.
func TestRepeatedTenantID(t *testing.T) {
	pol := testPolicy(t)
	for _, order := range [][2]string{{"globex", "acme"}, {"acme", "globex"}} {
		attrs := fmt.Sprintf(`{"key":"tenant.id","value":{"stringValue":%q}},{"key":"tenant.id","value":{"stringValue":%q}}`, order[0], order[1])
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":{"attributes":[` + attrs + `]},"scopeLogs":[{"logRecords":[{}]}]}]}`))
		require.NoError(t, err)
		require.Equal(t, 2, ld.ResourceLogs().At(0).Resource().Attributes().Len())
		parts := Logs(pol, ld, ByTenant)
		require.Len(t, parts, 1)
		assert.Equal(t, policy.Quarantine, parts[0].Key)
		reason, _ := parts[0].Data.ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrQuarantineReason)
		assert.Equal(t, identity.ReasonMalformed, reason.Str())
	}
}

func logsOf(tenants ...string) plog.Logs {
	ld := plog.NewLogs()
	for i, tn := range tenants {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
		rl.Resource().Attributes().PutInt("n", int64(i))
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(tn)
	}
	return ld
}

func numbers[B any](parts []Part[string, B], resources func(B) []pcommon.Resource) map[string][]int64 {
	out := map[string][]int64{}
	for _, p := range parts {
		for _, r := range resources(p.Data) {
			n, _ := r.Attributes().Get("n")
			out[p.Key] = append(out[p.Key], n.Int())
		}
	}
	return out
}

// Parts come in the order their keys first appear, each resource moved
// (not copied) into its part in its own order.
func TestSplitMovesInFirstSeenOrder(t *testing.T) {
	ld := logsOf("globex", "hooli", "acme", "globex", "initech")
	parts := Logs(testPolicy(t), ld, ByTenant)
	var keys []string
	for _, p := range parts {
		keys = append(keys, p.Key)
	}
	assert.Equal(t, []string{"globex", policy.Quarantine, "acme"}, keys)
	assert.Equal(t, map[string][]int64{"globex": {0, 3}, policy.Quarantine: {1, 4}, "acme": {2}},
		numbers(parts, func(ld plog.Logs) []pcommon.Resource {
			var rs []pcommon.Resource
			for i := 0; i < ld.ResourceLogs().Len(); i++ {
				rs = append(rs, ld.ResourceLogs().At(i).Resource())
			}
			return rs
		}))
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		assert.Zero(t, ld.ResourceLogs().At(i).Resource().Attributes().Len(), "resource %d was moved out", i)
	}
}

// When every resource has one key, the batch is the part: nothing moves.
func TestOneKeyIsTheBatch(t *testing.T) {
	ld := logsOf("acme", "acme")
	parts := Logs(testPolicy(t), ld, ByTenant)
	require.Len(t, parts, 1)
	parts[0].Data.ResourceLogs().At(1).Resource().Attributes().PutStr("seen", "yes")
	v, ok := ld.ResourceLogs().At(1).Resource().Attributes().Get("seen")
	assert.True(t, ok && v.Str() == "yes", "the part is the batch itself")

	assert.Empty(t, Logs(testPolicy(t), plog.NewLogs(), ByTenant), "an empty batch has no parts")
}

// The key can carry more than the tenant (the router adds a residency);
// one tenant may then make several parts.
func TestKeyBeyondTenant(t *testing.T) {
	ld := logsOf("acme", "acme", "globex")
	type key struct {
		tenant string
		odd    bool
	}
	parts := Logs(testPolicy(t), ld, func(tn string, rl plog.ResourceLogs) key {
		n, _ := rl.Resource().Attributes().Get("n")
		return key{tn, n.Int()%2 == 1}
	})
	var keys []key
	for _, p := range parts {
		keys = append(keys, p.Key)
		assert.Equal(t, 1, p.Data.ResourceLogs().Len())
	}
	assert.Equal(t, []key{{"acme", false}, {"acme", true}, {"globex", false}}, keys)
}

func TestMetricsAndTraces(t *testing.T) {
	pol := testPolicy(t)
	md := pmetric.NewMetrics()
	td := ptrace.NewTraces()
	for i, tn := range []string{"acme", "hooli", "acme"} {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
		rm.Resource().Attributes().PutInt("n", int64(i))
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr(identity.AttrTenantID, tn)
		rs.Resource().Attributes().PutInt("n", int64(i))
	}
	want := map[string][]int64{"acme": {0, 2}, policy.Quarantine: {1}}
	assert.Equal(t, want, numbers(Metrics(pol, md, ByTenant), func(md pmetric.Metrics) []pcommon.Resource {
		var rs []pcommon.Resource
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rs = append(rs, md.ResourceMetrics().At(i).Resource())
		}
		return rs
	}))
	assert.Equal(t, want, numbers(Traces(pol, td, ByTenant), func(td ptrace.Traces) []pcommon.Resource {
		var rs []pcommon.Resource
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs = append(rs, td.ResourceSpans().At(i).Resource())
		}
		return rs
	}))
}

// FuzzTenant: whatever a resource's tenant.id holds, the tenant is a
// policy tenant equal to it, or one of the pipeline tenants.
func FuzzTenant(f *testing.F) {
	pol := testPolicy(f)
	for _, s := range []string{"acme", "globex", "", "_quarantine", "_governance", "_x", "../acme", "acme ", "ACME"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		m := pcommon.NewMap()
		m.PutStr(identity.AttrTenantID, id)
		got := Tenant(pol, m)
		switch got {
		case policy.Quarantine, policy.Governance:
			if got != id {
				if _, ok := m.Get(identity.AttrQuarantineReason); !ok {
					t.Fatalf("%q quarantined without a reason", id)
				}
			}
		default:
			if got != id {
				t.Fatalf("%q routed to %q", id, got)
			}
			if tn, ok := pol.Tenant(got); !ok || !tn.Active() {
				t.Fatalf("%q is not an active policy tenant", got)
			}
		}
	})
}
