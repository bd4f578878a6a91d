package tenantrouterexporter

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// A tenant whose policy names a residency reaches only backends of that
// region, whether the policy or the defaults name them; the others count
// the refusal. Tenants without a residency go anywhere.
func TestResidencyKeepsDataInRegion(t *testing.T) {
	eu, us, plain := newOTLPServer(t, nil), newOTLPServer(t, nil), newOTLPServer(t, nil)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"eu":    {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: eu.URL}, Region: "eu-west", Retry: fastRetry()},
		"us":    {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: us.URL}, Region: "us-east", Retry: fastRetry()},
		"plain": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: plain.URL}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"us", "plain"}, "metrics": {"plain"}, "traces": {"plain"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"plain"}, []string{"plain"}
	e := startRouter(t, cfg, `tenants:
  acme: {residency: eu-west, backends: {logs: [eu, us, plain]}}
  globex: {residency: eu-west}
  initech: {}
`)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a1"}, [2]string{"globex", "g1"}, [2]string{"initech", "i1"})))
	eventually(t, "acme in eu, initech in us and plain", func() bool {
		return len(eu.requests()) == 1 && len(us.requests()) == 1 && len(plain.requests()) == 1
	})
	assert.Equal(t, "acme", eu.requests()[0].tenant)
	assert.Equal(t, "initech", us.requests()[0].tenant)
	assert.Equal(t, "initech", plain.requests()[0].tenant)

	residency := reasonIndex(reasonResidency)
	assert.EqualValues(t, 1, e.stats("acme", "us").failed[0][residency].Load(), "acme refused by us, counted")
	assert.EqualValues(t, 1, e.stats("acme", "plain").failed[0][residency].Load(), "a backend without a region takes no resident tenant")
	// globex names no backends: the defaults (us, plain) are both outside
	// eu-west, so its batch goes nowhere, counted on each.
	assert.EqualValues(t, 1, e.stats("globex", "us").failed[0][residency].Load())
	assert.EqualValues(t, 1, e.stats("globex", "plain").failed[0][residency].Load())
	for _, s := range []*otlpServer{eu, us, plain} {
		for _, rq := range s.requests() {
			assert.NotEqual(t, "globex", rq.tenant)
		}
	}
}

func TestRegionIsValidated(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"eu": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: "http://127.0.0.1:1"}, Region: "EU West"}}
	cfg.DefaultBackends = map[string][]string{"logs": {"eu"}, "metrics": {"eu"}, "traces": {"eu"}}
	assert.ErrorContains(t, cfg.Validate(), `backends.eu.region: "EU West" is not a residency name`)
}

// bodyServer records, per request, the tenant header and each log
// record's body.
type bodyServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies map[string][]string // tenant -> bodies
}

func newBodyServer(t *testing.T) *bodyServer {
	b := &bodyServer{bodies: map[string][]string{}}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		req := plogotlp.NewExportRequest()
		if !assert.NoError(t, req.UnmarshalProto(raw)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		tenant := r.Header.Get(DefaultTenantHeader)
		rls := req.Logs().ResourceLogs()
		for i := 0; i < rls.Len(); i++ {
			for j := 0; j < rls.At(i).ScopeLogs().Len(); j++ {
				lrs := rls.At(i).ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					b.bodies[tenant] = append(b.bodies[tenant], lrs.At(k).Body().Str())
				}
			}
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *bodyServer) got(tenant string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.bodies[tenant]...)
	sort.Strings(out)
	return out
}

// TestResidencyOfPipelineTenants: _quarantine and _governance data about a
// resident tenant goes only to the quarantine/governance backends of its
// region: the quarantine's by the sender (tenant.authenticated) or, without
// one, the claimed tenants; the governance's by each record's
// anomaly.tenant.id (one anomaly report is split). Data about a tenant
// whose region has no backend is refused on each, counted (residency);
// data about no resident tenant goes to every such backend.
func TestResidencyOfPipelineTenants(t *testing.T) {
	eu, plain := newBodyServer(t), newBodyServer(t)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"eu":    {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: eu.URL}, Region: "eu-west", Retry: fastRetry()},
		"plain": {Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: plain.URL}, Retry: fastRetry()},
	}
	cfg.DefaultBackends = map[string][]string{"logs": {"plain"}, "metrics": {"plain"}, "traces": {"plain"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"eu", "plain"}, []string{"eu", "plain"}
	e := startRouter(t, cfg, `tenants:
  acme: {residency: eu-west}
  globex: {}
  initech: {residency: ap-south}
  umbrella: {residency: us-east}
`)
	ld := plog.NewLogs()
	add := func(tenant, body string, attrs map[string]string) plog.ResourceLogs {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("tenant.id", tenant)
		for k, v := range attrs {
			rl.Resource().Attributes().PutStr(k, v)
		}
		if body != "" {
			rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(body)
		}
		return rl
	}
	add(policy.Quarantine, "q-sent-by-acme", map[string]string{"tenant.authenticated": "acme", "tenant.claimed": "globex"})
	add(policy.Quarantine, "q-sent-by-globex", map[string]string{"tenant.authenticated": "globex", "tenant.claimed": "acme"})
	add(policy.Quarantine, "q-claims-acme", map[string]string{"tenant.claimed": "acme"})
	add(policy.Quarantine, "q-sent-by-initech", map[string]string{"tenant.authenticated": "initech"})
	add(policy.Quarantine, "q-claims-two-regions", map[string]string{"tenant.claimed": "acme,umbrella"})
	// The router's own quarantine: tenant.id repeated, acme's and globex's.
	dup, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.id","value":{"stringValue":"acme"}},{"key":"tenant.id","value":{"stringValue":"globex"}}]},` +
		`"scopeLogs":[{"logRecords":[{"body":{"stringValue":"q-dup-acme-globex"}}]}]}]}`))
	require.NoError(t, err)
	dup.ResourceLogs().At(0).CopyTo(ld.ResourceLogs().AppendEmpty())
	gov := add(policy.Governance, "", nil)
	for _, about := range []string{"acme", "globex", "initech"} {
		lr := gov.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.Body().SetStr("g-about-" + about)
		lr.Attributes().PutStr(identity.AttrAnomalyTenant, about)
	}
	add(policy.Governance, "g-resource-about-acme", map[string]string{identity.AttrAnomalyTenant: "acme"})
	require.Equal(t, 2, ld.ResourceLogs().At(5).Resource().Attributes().Len(), "pcommon kept both tenant.id")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))

	wantEU := map[string][]string{
		policy.Quarantine: {"q-claims-acme", "q-dup-acme-globex", "q-sent-by-acme", "q-sent-by-globex"},
		policy.Governance: {"g-about-acme", "g-about-globex", "g-resource-about-acme"},
	}
	wantPlain := map[string][]string{
		policy.Quarantine: {"q-sent-by-globex"},
		policy.Governance: {"g-about-globex"},
	}
	eventually(t, "every delivery", func() bool {
		return len(eu.got(policy.Quarantine)) == 4 && len(eu.got(policy.Governance)) == 3 &&
			len(plain.got(policy.Quarantine)) == 1 && len(plain.got(policy.Governance)) == 1
	})
	for _, tn := range []string{policy.Quarantine, policy.Governance} {
		assert.Equal(t, wantEU[tn], eu.got(tn), "eu-west: %s", tn)
		assert.Equal(t, wantPlain[tn], plain.got(tn), "no region: %s", tn)
	}
	residency := reasonIndex(reasonResidency)
	// Quarantine: acme's three parts (sender, claim, duplicate) share a
	// partition; initech's and the two-region claim each refused on both.
	assert.EqualValues(t, 1+1+1+1+1, e.stats(policy.Quarantine, "plain").failed[0][residency].Load(), "acme x3, initech, conflict")
	assert.EqualValues(t, 2, e.stats(policy.Quarantine, "eu").failed[0][residency].Load(), "initech, conflict")
	assert.EqualValues(t, 2+1, e.stats(policy.Governance, "plain").failed[0][residency].Load(), "acme x2, initech")
	assert.EqualValues(t, 1, e.stats(policy.Governance, "eu").failed[0][residency].Load(), "initech")
}
