package tenantrouterexporter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
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
