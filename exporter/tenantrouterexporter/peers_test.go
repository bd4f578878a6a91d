package tenantrouterexporter

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

// Tests against real peers (docs/peers.md). Each fails when its binary is not
// installed: .ci/run installs prometheus from Debian, `make peers` builds
// victoria-logs.

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func getBody(t *testing.T, u string, headers map[string]string) string {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestPeerPrometheusRemoteWrite(t *testing.T) {
	bin := peertest.Binary(t, "TENANCY_PROMETHEUS", "prometheus")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("global: {}\n"), 0o600))
	addr := peertest.FreeAddr(t)
	peertest.Start(t, 10*time.Second, "http://"+addr+"/-/ready", bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"prom":  {Type: TypeRemoteWrite, ClientConfig: confighttp.ClientConfig{Endpoint: "http://" + addr + "/api/v1/write"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("cc", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {metrics: [prom]}}\n  globex: {backends: {metrics: [prom]}}\n")
	md := metricsFor("acme", "globex")
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).SetTimestamp(now)
	}
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	eventually(t, "both tenants sent", func() bool {
		return e.stats("acme", "prom").sent[1].Load() == 1 && e.stats("globex", "prom").sent[1].Load() == 1
	})
	var body string
	eventually(t, "the series in Prometheus", func() bool {
		body = getBody(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape("orders_total"), nil)
		return strings.Contains(body, `"owner":"acme"`) && strings.Contains(body, `"owner":"globex"`)
	})
	assert.Contains(t, body, `"job":"shop"`)
	for _, tn := range []string{"acme", "globex"} {
		assert.Zero(t, e.stats(tn, "prom").failed[1][reasonIndex(reasonPermanent)].Load())
	}
}

// TestPeerVictoriaLogsLoki pushes our tenants' logs over the Loki protocol
// to VictoriaLogs, whose tenants are numeric AccountIDs: the backend's
// tenant_ids maps acme to 1 and globex to 2; each AccountID's query sees
// only its tenant's logs, and initech, absent from the map, is refused
// (counted) rather than sent under any id.
func TestPeerVictoriaLogsLoki(t *testing.T) {
	bin := peertest.Binary(t, "TENANCY_VICTORIALOGS", "victoria-logs")
	addr := peertest.FreeAddr(t)
	peertest.Start(t, 10*time.Second, "http://"+addr+"/health", bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir())

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"vl": {Type: TypeLoki, ClientConfig: confighttp.ClientConfig{Endpoint: "http://" + addr + "/insert/loki/api/v1/push"}, TenantHeader: "AccountID",
			TenantIDs: map[string]string{"acme": "1", "globex": "2"}, Retry: fastRetry()},
	}
	require.NoError(t, cfg.Validate())
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("dd", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {logs: [vl]}}\n  globex: {backends: {logs: [vl]}}\n  initech: {backends: {logs: [vl]}}\n")
	ld := logsFor([2]string{"acme", "vl-marker-acme"}, [2]string{"globex", "vl-marker-globex"}, [2]string{"acme", "vl-marker-acme-b"},
		[2]string{"initech", "vl-marker-initech"})
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		ld.ResourceLogs().At(i).Resource().Attributes().PutStr("service.name", "shop")
		ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	}
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	eventually(t, "both mapped tenants sent", func() bool {
		return e.stats("acme", "vl").sent[0].Load() == 2 && e.stats("globex", "vl").sent[0].Load() == 1
	})
	assert.EqualValues(t, 1, e.stats("initech", "vl").failed[0][reasonIndex(reasonNoBackendTenantID)].Load(), "initech refused, counted")
	assert.Zero(t, e.stats("initech", "vl").sent[0].Load())
	eventually(t, "initech kept in the default backend instead", func() bool { return e.stats("initech", "store").sent[0].Load() == 1 })
	query := func(account string) string {
		return getBody(t, "http://"+addr+"/select/logsql/query?query=*", map[string]string{"AccountID": account})
	}
	var acme string
	eventually(t, "acme's logs visible under AccountID 1", func() bool {
		acme = query("1")
		return strings.Contains(acme, "vl-marker-acme-b")
	})
	assert.Contains(t, acme, "vl-marker-acme")
	assert.NotContains(t, acme, "vl-marker-globex")
	assert.NotContains(t, acme, "vl-marker-initech")
	assert.Contains(t, acme, `"service_name":"shop"`)
	var globex string
	eventually(t, "globex's logs visible under AccountID 2", func() bool {
		globex = query("2")
		return strings.Contains(globex, "vl-marker-globex")
	})
	assert.NotContains(t, globex, "vl-marker-acme")
	assert.NotContains(t, globex, "vl-marker-initech")
	for _, other := range []string{"0", "3"} {
		assert.NotContains(t, query(other), "vl-marker", fmt.Sprintf("AccountID %s sees nothing", other))
	}
}

// TestPeerCortexRemoteWrite writes acme's and globex's samples through
// the router to a real multi-tenant Cortex (remote write, X-Scope-OrgID):
// a query as acme sees acme's series only, as globex globex's only, and a
// tenant that wrote nothing sees nothing.
func TestPeerCortexRemoteWrite(t *testing.T) {
	httpAddr := peertest.StartCortex(t)

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store":  {Type: TypeLocalstore, Directory: t.TempDir()},
		"cortex": {Type: TypeRemoteWrite, ClientConfig: confighttp.ClientConfig{Endpoint: "http://" + httpAddr + "/api/v1/push"}, Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("c0", 32))
	e := startRouter(t, cfg, "tenants:\n  acme: {backends: {metrics: [cortex]}}\n  globex: {backends: {metrics: [cortex]}}\n")
	md := metricsFor("acme", "globex")
	now := pcommon.NewTimestampFromTime(time.Now())
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(0).SetTimestamp(now)
	}
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	eventually(t, "both tenants' samples accepted by cortex", func() bool {
		return e.stats("acme", "cortex").sent[1].Load() == 1 && e.stats("globex", "cortex").sent[1].Load() == 1
	})
	for _, tn := range []string{"acme", "globex"} {
		assert.Zero(t, e.stats(tn, "cortex").failed[1][reasonIndex(reasonPermanent)].Load(), "%s refused", tn)
	}
	query := func(orgID string) string {
		return getBody(t, "http://"+httpAddr+"/prometheus/api/v1/query?query="+url.QueryEscape("orders_total"), map[string]string{"X-Scope-OrgID": orgID})
	}
	for _, tc := range []struct{ tenant, other string }{{"acme", "globex"}, {"globex", "acme"}} {
		var body string
		eventually(t, tc.tenant+"'s series as "+tc.tenant, func() bool {
			body = query(tc.tenant)
			return strings.Contains(body, `"owner":"`+tc.tenant+`"`)
		})
		assert.Contains(t, body, `"job":"shop"`)
		assert.NotContains(t, body, `"owner":"`+tc.other+`"`, "%s's samples visible as %s", tc.other, tc.tenant)
	}
	t.Logf("as acme: %s", query("acme"))
	nobody := query("initech")
	assert.Contains(t, nobody, `"result":[]`, "a tenant that wrote nothing sees nothing")
	assert.NotContains(t, nobody, "owner")
}
