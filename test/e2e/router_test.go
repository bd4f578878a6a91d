package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// routerConfig is the identity pipeline ending in the tenantrouter with
// the local store as its only backend, under the test's temp dir.
const routerConfig = `
extensions:
  tenantpolicy:
    path: {{POLICY}}
    reload_interval: 200ms
  health_check:
    endpoint: {{HEALTH}}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{GRPC}}
        auth: {authenticator: tenantpolicy}
      http:
        endpoint: {{HTTP}}
        auth: {authenticator: tenantpolicy}
processors:
  tenant:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
exporters:
  tenantrouter:
    backends:
      local:
        type: localstore
        directory: {{DIR}}/store
service:
  telemetry:
    metrics:
      level: none
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
    metrics: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
    traces: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
`

const routerMasterKey = "5a17e2e05a17e2e05a17e2e05a17e2e05a17e2e05a17e2e05a17e2e05a17e2e0"

// tenancyctlBinary is bin/tenancyctl beside the collector `make build` made.
func tenancyctlBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TENANCY_CTL")
	if bin == "" {
		bin = filepath.Join(filepath.Dir(collectorBinary(t)), "tenancyctl")
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "the end-to-end tests need bin/tenancyctl: run `make build`")
	return bin
}

// ctl runs the real tenancyctl and returns its exit code and output.
func ctl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(tenancyctlBinary(t), args...)
	cmd.Env = append(os.Environ(), "TENANCY_MASTER_KEY="+routerMasterKey)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err)
	return 0, string(out)
}

func TestEndToEndRouterLocalstore(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // inherited by the collector
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), routerConfig)
	store := filepath.Join(c.dir, "store")

	for tenant, key := range demoKeys {
		for _, sig := range signals {
			marker := fmt.Sprintf("r-%s-%s", tenant, sig)
			require.Equal(t, http.StatusOK, c.postHTTP(t, sig, newPayload(marker, ""), map[string]string{"X-API-Key": key}), marker)
		}
	}
	for _, sig := range signals {
		require.Equal(t, http.StatusOK, c.postHTTP(t, sig, newPayload("r-spoof-"+sig, "globex"), map[string]string{"X-API-Key": demoKeys["acme"]}))
	}
	// A forensic query while the collector writes: another process on the
	// same WAL database.
	waitFor(t, "acme's records readable while the collector runs", 15*time.Second, func() bool {
		code, out := ctl(t, "query", "--data", store, "--tenant", "acme", "--format", "csv", "SELECT count(*) AS n FROM logs")
		return code == 0 && out == "n\n1\n"
	})
	// Graceful shutdown drains the queues into the store.
	c.stop()

	// markers lists every marker in a tenant's database, all signals.
	markers := func(tenant string) string {
		code, out := ctl(t, "query", "--data", store, "--tenant", tenant, "--format", "csv",
			`SELECT body AS m FROM logs UNION ALL SELECT json_extract(attrs, '$.marker') FROM datapoints UNION ALL SELECT name FROM spans`)
		require.Equal(t, 0, code, out)
		return out
	}
	for tenant := range demoKeys {
		got := markers(tenant)
		for other := range demoKeys {
			for _, sig := range signals {
				m := fmt.Sprintf("r-%s-%s", other, sig)
				if other == tenant {
					assert.Contains(t, got, m)
				} else {
					assert.NotContains(t, got, m, "%s's record in %s's database", other, tenant)
				}
			}
		}
		assert.NotContains(t, got, "r-spoof", "a spoofed record reached %s", tenant)
		code, out := ctl(t, "audit", "verify", "--data", store, "--tenant", tenant)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "audit log verified") // ingested batches and queries, in one chain
	}
	q := markers(policy.Quarantine)
	for _, sig := range signals {
		assert.Contains(t, q, "r-spoof-"+sig)
	}
	assert.NotContains(t, q, "r-acme-")
	code, out := ctl(t, "query", "--data", store, "--tenant", policy.Quarantine, "--format", "csv",
		`SELECT DISTINCT json_extract(resource, '$."tenant.quarantine.reason"') AS reason FROM logs`)
	require.Equal(t, 0, code, out)
	assert.Equal(t, "reason\nspoofed\n", out)

	// One folder per tenant, and nothing readable without the master key.
	entries, err := os.ReadDir(store)
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		if policy.ValidateTenantID(e.Name()) != nil {
			continue // ~store: the store's key set and anchor log
		}
		dirs = append(dirs, e.Name())
		b, err := os.ReadFile(filepath.Join(store, e.Name(), "data.db"))
		require.NoError(t, err)
		assert.False(t, strings.Contains(string(b), "r-"+e.Name()), "plaintext in %s's file", e.Name())
	}
	assert.ElementsMatch(t, []string{"acme", "globex", "initech", policy.Quarantine}, dirs)
	cmd := exec.Command(tenancyctlBinary(t), "query", "--data", store, "--tenant", "acme", "SELECT 1")
	cmd.Env = append(os.Environ(), "TENANCY_MASTER_KEY="+strings.Repeat("0", 64))
	out2, err := cmd.CombinedOutput()
	assert.Error(t, err, "a wrong master key opens nothing")
	assert.Contains(t, string(out2), "wrapped by master key")
}

// routerRestartConfig queues each tenant's data to an OTLP/HTTP backend
// with the queues kept in file_storage.
const routerRestartConfig = `
extensions:
  tenantpolicy:
    path: {{POLICY}}
  health_check:
    endpoint: {{HEALTH}}
  file_storage:
    directory: {{DIR}}/queues
    create_directory: true
receivers:
  otlp:
    protocols:
      http:
        endpoint: {{HTTP}}
        auth: {authenticator: tenantpolicy}
processors:
  tenant:
    fingerprint_secret: ${env:TENANCY_FINGERPRINT_SECRET}
exporters:
  tenantrouter:
    storage: file_storage
    retry_on_failure: {enabled: true, initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 10m}
    backends:
      remote: {type: otlphttp, endpoint: "{{BACKEND}}"}
    default_backends: {logs: [remote], metrics: [remote], traces: [remote]}
    quarantine_backends: [remote]
    governance_backends: [remote]
service:
  telemetry:
    metrics:
      level: none
  extensions: [tenantpolicy, health_check, file_storage]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
`

// TestEndToEndRouterQueuesSurviveRestart: the backend is down, the
// collector accepts acme's and globex's logs, stops, and starts again once
// the backend is up: each batch arrives, under its own tenant's header.
func TestEndToEndRouterQueuesSurviveRestart(t *testing.T) {
	var up atomic.Bool
	var mu sync.Mutex
	got := map[string][]string{} // X-Scope-OrgID -> bodies
	var attempts atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		attempts.Add(1)
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		got[r.Header.Get("X-Scope-OrgID")] = append(got[r.Header.Get("X-Scope-OrgID")], string(body))
		mu.Unlock()
	}))
	defer backend.Close()

	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(routerRestartConfig, "{{BACKEND}}", backend.URL))
	for _, tenant := range []string{"acme", "globex"} {
		require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("persisted-"+tenant, ""), map[string]string{"X-API-Key": demoKeys[tenant]}))
	}
	waitFor(t, "failed attempts at the dead backend", 15*time.Second, func() bool { return attempts.Load() >= 4 })
	c.stop()
	up.Store(true)
	c.start(t)
	waitFor(t, "both tenants' batches after the restart", 15*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["acme"]) > 0 && len(got["globex"]) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for tenant, bodies := range got {
		for _, b := range bodies {
			for _, other := range []string{"acme", "globex"} {
				if other == tenant {
					assert.Contains(t, b, "persisted-"+other)
				} else {
					assert.NotContains(t, b, "persisted-"+other, "%s's record in %s's request", other, tenant)
				}
			}
		}
	}
	assert.ElementsMatch(t, []string{"acme", "globex"}, mapKeys(got))
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
