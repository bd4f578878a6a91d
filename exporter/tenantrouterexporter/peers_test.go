package tenantrouterexporter

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// Tests against real peers (PEERS.md). Each fails when its binary is not
// installed: .ci/run installs prometheus from Debian, `make peers` builds
// victoria-logs.

func peerBinary(t *testing.T, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	// make peers installs the Go-built peers here.
	if p, err := filepath.Abs(filepath.Join("..", "..", ".tools", "bin", name)); err == nil && fileExists(p) {
		return p
	}
	t.Fatalf("%s is not installed (set %s): run `make peers` (telemetrygen, victoria-logs) or `apt-get install -y prometheus`", name, env)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startPeer runs a peer process until the test ends and waits for ready.
func startPeer(t *testing.T, ready string, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	eventually(t, filepath.Base(bin)+" ready", func() bool {
		resp, err := http.Get(ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

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
	bin := peerBinary(t, "TENANCY_PROMETHEUS", "prometheus")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("global: {}\n"), 0o600))
	addr := freeAddr(t)
	startPeer(t, "http://"+addr+"/-/ready", bin, "--config.file="+cfgFile, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"prom":  {Type: TypeRemoteWrite, Endpoint: "http://" + addr + "/api/v1/write", Retry: fastRetry()},
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

// TestPeerVictoriaLogsLoki pushes two numeric tenants' logs over the Loki
// protocol with AccountID; each tenant's query sees only its own.
func TestPeerVictoriaLogsLoki(t *testing.T) {
	bin := peerBinary(t, "TENANCY_VICTORIALOGS", "victoria-logs")
	addr := freeAddr(t)
	startPeer(t, "http://"+addr+"/health", bin, "-httpListenAddr="+addr, "-storageDataPath="+t.TempDir())

	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{
		"store": {Type: TypeLocalstore, Directory: t.TempDir()},
		"vl":    {Type: TypeLoki, Endpoint: "http://" + addr + "/insert/loki/api/v1/push", TenantHeader: "AccountID", Retry: fastRetry()},
	}
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("dd", 32))
	e := startRouter(t, cfg, "tenants:\n  '42': {backends: {logs: [vl]}}\n  '7': {backends: {logs: [vl]}}\n")
	ld := logsFor([2]string{"42", "vl-marker-42"}, [2]string{"7", "vl-marker-7"}, [2]string{"42", "vl-marker-42b"})
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		ld.ResourceLogs().At(i).Resource().Attributes().PutStr("service.name", "shop")
		ld.ResourceLogs().At(i).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	}
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	eventually(t, "both tenants sent", func() bool {
		return e.stats("42", "vl").sent[0].Load() == 2 && e.stats("7", "vl").sent[0].Load() == 1
	})
	query := func(account string) string {
		return getBody(t, "http://"+addr+"/select/logsql/query?query=*", map[string]string{"AccountID": account})
	}
	var got42 string
	eventually(t, "tenant 42's logs visible", func() bool {
		got42 = query("42")
		return strings.Contains(got42, "vl-marker-42b")
	})
	assert.Contains(t, got42, "vl-marker-42")
	assert.NotContains(t, got42, "vl-marker-7")
	assert.Contains(t, got42, `"service_name":"shop"`)
	got7 := query("7")
	assert.Contains(t, got7, "vl-marker-7")
	assert.NotContains(t, got7, "vl-marker-42")
	assert.NotContains(t, query("0"), "vl-marker", fmt.Sprint("the default tenant sees nothing"))
}
