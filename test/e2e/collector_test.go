// Package e2e starts the ocb-built collector as a process and drives it
// with real OTLP clients. `make test-e2e` builds it first and passes its
// path in TENANCY_COLLECTOR.
package e2e

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// collector is a running otelcol-tenancy process.
type collector struct {
	dir      string
	policy   string
	dataDir  string
	httpAddr string
	grpcAddr string
	cmd      *exec.Cmd
	stderr   *peertest.Output

	healthAddr string
	configPath string
	exited     chan error
	// env is added to the process's environment (KEY=value).
	env []string
}

func collectorBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("TENANCY_COLLECTOR")
	if bin == "" {
		bin, _ = filepath.Abs("../../bin/otelcol-tenancy")
	}
	_, err := os.Stat(bin)
	require.NoError(t, err, "the end-to-end tests need the built collector: run `make build` (or `make test`)")
	return bin
}

// defaultConfig is the identity pipeline: otlp with the tenantpolicy
// authenticator, the tenant processor, one folder per tenant.
const defaultConfig = `
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
  tenantfile:
    directory: {{DATA}}
service:
  telemetry:
    metrics:
      level: none
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantfile]}
    metrics: {receivers: [otlp], processors: [tenant], exporters: [tenantfile]}
    traces: {receivers: [otlp], processors: [tenant], exporters: [tenantfile]}
`

// startCollector starts the collector on defaultConfig around policyYAML.
func startCollector(t *testing.T, policyYAML string) *collector {
	t.Helper()
	return startCollectorWith(t, policyYAML, defaultConfig)
}

// startCollectorWith writes the policy and the config template (with
// {{POLICY}}, {{HEALTH}}, {{GRPC}}, {{HTTP}}, {{DATA}} and {{DIR}} filled in:
// the policy file, free loopback ports, the tenantfile directory and the
// test's temp dir) and starts the collector, waiting until its health check
// (which the template must configure at {{HEALTH}}) answers.
func startCollectorWith(t *testing.T, policyYAML, configTemplate string) *collector {
	t.Helper()
	dir := t.TempDir()
	c := &collector{
		dir:      dir,
		policy:   filepath.Join(dir, "tenants.yaml"),
		dataDir:  filepath.Join(dir, "data"),
		httpAddr: peertest.FreeAddr(t),
		grpcAddr: peertest.FreeAddr(t),
		stderr:   &peertest.Output{},
	}
	c.healthAddr = peertest.FreeAddr(t)
	require.NoError(t, os.WriteFile(c.policy, []byte(policyYAML), 0o600))
	cfg := strings.NewReplacer("{{POLICY}}", c.policy, "{{HEALTH}}", c.healthAddr, "{{GRPC}}", c.grpcAddr,
		"{{HTTP}}", c.httpAddr, "{{DATA}}", c.dataDir, "{{DIR}}", dir).Replace(configTemplate)
	c.configPath = filepath.Join(dir, "config.yaml")
	require.NoError(t, os.WriteFile(c.configPath, []byte(cfg), 0o600))
	c.start(t)
	return c
}

// start runs the collector process on c's config; tests that restart the
// collector call stop and then start again.
func (c *collector) start(t *testing.T) {
	t.Helper()
	c.cmd = exec.Command(collectorBinary(t), "--config", c.configPath)
	c.cmd.Env = append(append(os.Environ(), "TENANCY_FINGERPRINT_SECRET="+fingerprintSecret), c.env...)
	c.cmd.Stdout = c.stderr
	c.cmd.Stderr = c.stderr
	require.NoError(t, c.cmd.Start())
	exited := make(chan error, 1)
	c.exited = exited
	go func() { exited <- c.cmd.Wait() }()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() {
			t.Logf("collector output:\n%s", c.stderr.String())
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			c.exited = nil // already reaped: stop must not wait for it again
			t.Fatalf("collector exited at start: %v\n%s", err, c.stderr.String())
		default:
		}
		resp, err := http.Get("http://" + c.healthAddr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector not healthy after 30s:\n%s", c.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop interrupts the collector and waits for it to exit (graceful
// shutdown flushes exporters and storage); it is safe to call twice.
func (c *collector) stop() {
	if c.cmd == nil || c.exited == nil {
		return
	}
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.exited = nil
}

const fingerprintSecret = "e2e-fingerprint-secret-000001"

// lines returns the JSON lines of one tenant's file for a signal.
func (c *collector) lines(t *testing.T, tenant, signal string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(c.dataDir, tenant, signal+".jsonl"))
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	require.NoError(t, sc.Err())
	return out
}

// tenants lists the partitions the exporter created.
func (c *collector) tenants(t *testing.T) []string {
	entries, err := os.ReadDir(c.dataDir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func contextWithTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readRepoFile(t *testing.T, rel string) string {
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	require.NoError(t, err)
	return string(b)
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
