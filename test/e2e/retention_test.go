package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

const retentionConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "{{GRPC}}", auth: {authenticator: tenantpolicy}}
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  tenantretention: {region: eu-west}
exporters:
  tenantfile: {directory: "{{DATA}}"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant, tenantretention], exporters: [tenantfile]}
    traces: {receivers: [otlp], processors: [tenant, tenantretention], exporters: [tenantfile]}
`

// Records older than the tenant's retention do not reach its partition,
// the rest arrive stamped with the retention their backend must keep, and
// a tenant whose residency is another region gets nothing stored here.
func TestEndToEndRetentionAndResidency(t *testing.T) {
	policyYAML := strings.Replace(readRepoFile(t, "config/tenants.yaml"),
		"  globex:\n", "  globex:\n    residency: us-east\n", 1)
	policyYAML = strings.Replace(policyYAML, "  acme:\n", "  acme:\n    residency: eu-west\n", 1)
	c := startCollectorWith(t, policyYAML, retentionConfig)

	// globex first: its request is answered after the pipeline ran, so
	// nothing of it can still be on its way when acme's lines are read.
	g := newPayload("m-globex-fresh", "")
	g.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", g, map[string]string{"X-API-Key": demoKeys["globex"]}))

	// initech keeps logs 7 days (config/tenants.yaml).
	p := newPayload("m-initech-fresh", "")
	lrs := p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	lrs.At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-time.Hour)))
	old := lrs.AppendEmpty()
	old.Body().SetStr("m-initech-eight-days-old")
	old.SetTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-8 * 24 * time.Hour)))
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, map[string]string{"X-API-Key": demoKeys["initech"]}))

	a := newPayload("m-acme-fresh", "")
	a.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", a, map[string]string{"X-API-Key": demoKeys["acme"]}))

	waitFor(t, "initech's and acme's fresh records", 15*time.Second, func() bool {
		return len(c.lines(t, "initech", "logs")) > 0 && len(c.lines(t, "acme", "logs")) > 0
	})
	acme := strings.Join(c.lines(t, "acme", "logs"), "\n")
	assert.Contains(t, acme, "m-acme-fresh")
	assert.Contains(t, acme, `"tenant.residency"`)
	assert.Contains(t, acme, `"eu-west"`)
	assert.Contains(t, acme, `"30d"`, "acme has the defaults' 30 days")
	logs := strings.Join(c.lines(t, "initech", "logs"), "\n")
	assert.Contains(t, logs, "m-initech-fresh")
	assert.NotContains(t, logs, "m-initech-eight-days-old")
	assert.Contains(t, logs, `"tenant.retention"`)
	assert.Contains(t, logs, `"7d"`)
	assert.Empty(t, c.lines(t, "globex", "logs"), "globex's residency is us-east, this collector runs in eu-west")
}

const residencyRouterConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "{{GRPC}}", auth: {authenticator: tenantpolicy}}
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
exporters:
  tenantrouter:
    backends:
      eu: {type: localstore, directory: "{{DIR}}/eu", region: eu-west}
      us: {type: localstore, directory: "{{DIR}}/us", region: us-east}
    default_backends: {logs: [eu, us], metrics: [eu, us], traces: [eu, us]}
    quarantine_backends: [eu]
    governance_backends: [eu]
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantrouter]}
`

// The router keeps a resident tenant's data in backends of its region:
// acme (eu-west) only in the eu store, globex (us-east) only in the us
// store, initech (no residency) in both.
func TestEndToEndResidencyAtTheRouter(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // inherited by the collector
	policyYAML := strings.Replace(readRepoFile(t, "config/tenants.yaml"), "  acme:\n", "  acme:\n    residency: eu-west\n", 1)
	policyYAML = strings.Replace(policyYAML, "  globex:\n", "  globex:\n    residency: us-east\n", 1)
	c := startCollectorWith(t, policyYAML, residencyRouterConfig)
	for _, tenant := range []string{"acme", "globex", "initech"} {
		p := newPayload("m-residency-"+tenant, "")
		require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", p, map[string]string{"X-API-Key": demoKeys[tenant]}))
	}
	stored := func(store, tenant string) bool {
		_, err := os.Stat(filepath.Join(c.dir, store, tenant))
		return err == nil
	}
	waitFor(t, "each tenant's data in its region's store", 15*time.Second, func() bool {
		return stored("eu", "acme") && stored("us", "globex") && stored("eu", "initech") && stored("us", "initech")
	})
	// Each (tenant, backend) queue writes on its own; give a wrongly
	// routed batch the time the others took before looking for it.
	time.Sleep(500 * time.Millisecond)
	assert.False(t, stored("us", "acme"), "acme's residency is eu-west")
	assert.False(t, stored("eu", "globex"), "globex's residency is us-east")
}
