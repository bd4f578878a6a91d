package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// writeSample writes an OTLP/JSON lines sample as tenancyctl export does:
// a logs request with one resource per tenant, each with a two-day-old log
// holding an e-mail address, and a traces request for acme.
func writeSample(t *testing.T, tenants ...string) string {
	t.Helper()
	ld := plog.NewLogs()
	ts := pcommon.NewTimestampFromTime(time.Now().Add(-48 * time.Hour))
	for _, id := range tenants {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("tenant.id", id)
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(ts)
		lr.Body().SetStr("login by jane@" + id + ".example failed")
	}
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("tenant.id", tenants[0])
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("GET /")
	sp.SetStartTimestamp(ts)
	sp.SetEndTimestamp(ts)
	logs, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	traces, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "sample.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(string(logs)+"\n"+string(traces)+"\n"), 0o600))
	return path
}

const oldPolicy = "tenants:\n  acme: {}\n  globex: {}\n"

func TestPolicyTestSuspendAndRemove(t *testing.T) {
	sample := writeSample(t, "acme", "globex")
	oldP := writeFile(t, "old.yaml", oldPolicy)
	newP := writeFile(t, "new.yaml", "tenants:\n  acme: {status: suspended}\n  initech: {}\n")
	code, out, errOut := tenancyctl(t, "", "policy", "test", oldP, newP, "--sample", sample)
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "2 requests, 3 records")
	assert.Contains(t, out, "newly quarantined (tenant signal: records reason):\n  acme logs: 1 records suspended\n  acme traces: 1 records suspended\n  globex logs: 1 records unknown\n")
	assert.Contains(t, out, "FAIL acme: 2 of its own records would be quarantined")
	assert.Contains(t, out, "FAIL globex: 1 of its own records would be quarantined")
	assert.NotContains(t, out, "no tenant loses")

	// The same policy both sides changes nothing.
	code, out, errOut = tenancyctl(t, "", "policy", "test", oldP, oldP, "--sample", sample)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "newly")
	assert.Contains(t, out, "no tenant loses data it kept")
}

func TestPolicyTestRetention(t *testing.T) {
	sample := writeSample(t, "acme", "globex")
	oldP := writeFile(t, "old.yaml", oldPolicy)
	newP := writeFile(t, "new.yaml", "tenants:\n  acme: {retention: {logs: 1d}}\n  globex: {}\n")
	code, out, errOut := tenancyctl(t, "", "policy", "test", oldP, newP, "--sample", sample)
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "newly dropped by retention:\n  acme logs: 1 records\n")
	assert.Contains(t, out, "FAIL acme: 1 of its own records")
	assert.NotContains(t, out, "FAIL globex")
}

func TestPolicyTestRedactionClass(t *testing.T) {
	sample := writeSample(t, "acme", "globex")
	oldP := writeFile(t, "old.yaml", oldPolicy)
	newP := writeFile(t, "new.yaml", "tenants:\n  acme: {redaction: {classes: {email: mask}}}\n  globex: {}\n")
	code, out, errOut := tenancyctl(t, "", "policy", "test", oldP, newP, "--sample", sample)
	require.Equal(t, 0, code, out+errOut)
	assert.Contains(t, out, "newly redacted classes:\n  acme: email\n")
	assert.NotContains(t, out, "globex: email")
	assert.NotContains(t, out, "quarantined")
	assert.Contains(t, out, "no tenant loses data it kept")

	// Back again: the class is no longer redacted.
	code, out, _ = tenancyctl(t, "", "policy", "test", newP, oldP, "--sample", sample)
	require.Equal(t, 0, code)
	assert.Contains(t, out, "no longer redacted classes:\n  acme: email\n")
}

func TestPolicyTestConfig(t *testing.T) {
	sample := writeSample(t, "acme", "globex")
	collector := writeFile(t, "collector.yaml", `
processors:
  tenantretention:
    region: eu
exporters:
  tenantrouter/main:
    backends:
      local: {type: localstore, region: eu}
      loki-eu: {type: loki, region: eu}
`)
	oldP := writeFile(t, "old.yaml", oldPolicy)
	newP := writeFile(t, "new.yaml", "tenants:\n  acme: {backends: {logs: [loki-eu], traces: [tempo]}}\n  globex: {residency: us}\n")
	code, out, errOut := tenancyctl(t, "", "policy", "test", oldP, newP, "--sample", sample, "--config", collector)
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "backends "+newP+" names that no tenantrouter in "+collector+" has:\n  acme (traces): tempo\n")
	assert.NotContains(t, out, "(logs): loki-eu")
	assert.Contains(t, out, "routed elsewhere:\n  acme logs: 1 records (router defaults) -> loki-eu\n  acme traces: 1 records (router defaults) -> tempo\n")
	assert.Contains(t, out, "newly dropped by residency (region eu):\n  globex logs: 1 records\n")
	assert.Contains(t, out, "FAIL globex: 1 of its own records")

	// Every name known and no residency moved: exit 0.
	okP := writeFile(t, "ok.yaml", "tenants:\n  acme: {backends: {logs: [loki-eu]}}\n  globex: {}\n")
	code, out, errOut = tenancyctl(t, "", "policy", "test", oldP, okP, "--sample", sample, "--config", collector)
	require.Equal(t, 0, code, out+errOut)

	noRouter := writeFile(t, "plain.yaml", "exporters:\n  debug: {}\n")
	code, _, errOut = tenancyctl(t, "", "policy", "test", oldP, okP, "--sample", sample, "--config", noRouter)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no tenantrouter exporter")
}

func TestPolicyTestUsage(t *testing.T) {
	oldP := writeFile(t, "old.yaml", oldPolicy)
	code, _, errOut := tenancyctl(t, "", "policy", "test", oldP, oldP)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--sample")
	bad := writeFile(t, "bad.jsonl", "{\"nothing\": 1}\n")
	code, _, errOut = tenancyctl(t, "", "policy", "test", oldP, oldP, "--sample", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "bad.jsonl:1:")
}
