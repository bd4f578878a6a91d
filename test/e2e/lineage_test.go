package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// lineageConfig is the full ingest pipeline (identity, retention,
// redaction) ending in the router with the local store and a remote OTLP
// backend; chains are anchored every 100ms.
const lineageConfig = `
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
  tenantretention: {}
  tenantredact: {}
exporters:
  tenantrouter:
    backends:
      local: {type: localstore, directory: "{{DIR}}/store", anchor_interval: 100ms}
      remote: {type: otlphttp, endpoint: "{{REMOTE}}"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
    metrics: {receivers: [otlp], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
    traces: {receivers: [otlp], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
`

// TestEndToEndLineage: a log sent with acme's key, carrying an e-mail
// address, is followed from its record to its request (lineage id, the
// key id that proved it, the policy version, the redaction counts), to the
// remote backend it was also delivered to, and to the anchor covering its
// audit entry; a time range lists the requests accepted in it; a spoof's
// lineage in the quarantine names its sender.
func TestEndToEndLineage(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)
	var mu sync.Mutex
	var remote [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		remote = append(remote, b)
		mu.Unlock()
	}))
	defer srv.Close()

	policyYAML := strings.Replace(readRepoFile(t, "config/tenants.yaml"), "  acme:\n",
		"  acme:\n    redaction: {classes: {email: mask}}\n    backends: {logs: [local, remote]}\n", 1)
	pol, err := policy.Parse("tenants.yaml", []byte(policyYAML))
	require.NoError(t, err)
	c := startCollectorWith(t, policyYAML, strings.ReplaceAll(lineageConfig, "{{REMOTE}}", srv.URL))
	store := filepath.Join(c.dir, "store")
	acme := map[string]string{"X-API-Key": demoKeys["acme"]}
	// Records of now: the retention processor drops newPayload's 1970.
	fresh := func(marker, claim string) payload {
		p := newPayload(marker, claim)
		p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		return p
	}

	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", fresh("lineage-one refund to bob@example.com", ""), acme))
	time.Sleep(50 * time.Millisecond)
	mark := time.Now()
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", fresh("lineage-two", ""), acme))
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", fresh("lineage-spoof", "globex"), acme))

	var recordID, lineageID string
	waitFor(t, "the first record, its request stored and delivered, anchored", 15*time.Second, func() bool {
		code, out := ctl(t, "query", "--data", store, "--tenant", "acme", "--format", "csv",
			`SELECT l.id, n.lineage_id, (SELECT count(*) FROM lineage WHERE lineage_id = n.lineage_id) FROM logs l JOIN lineage n ON n.id = l.lineage WHERE l.body LIKE 'lineage-one%'`)
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(rows) != 2 {
			return false
		}
		f := strings.Split(rows[1], ",")
		recordID, lineageID = f[0], f[1]
		if f[2] != "2" {
			return false
		}
		code, out = ctl(t, "lineage", "--data", store, "--tenant", "acme", "--record", recordID)
		return code == 0 && !strings.Contains(out, "not anchored yet")
	})
	assert.Regexp(t, `^[0-9a-f]{32}$`, lineageID)

	code, out := ctl(t, "lineage", "--data", store, "--tenant", "acme", "--record", recordID)
	require.Equal(t, 0, code, out)
	t.Logf("tenancyctl lineage --record %s:\n%s", recordID, out)
	assert.Regexp(t, `request +`+lineageID, out, "its request")
	assert.Regexp(t, `sent by +acme with `+regexp.QuoteMeta(identity.KeyID(demoKeys["acme"]))+` \(api_key\)`, out, "the key id that proved it")
	assert.Regexp(t, `from +client 127\.0\.0\.1`, out)
	assert.Regexp(t, `decision +accepted under policy version `+pol.Version, out, "the policy version")
	assert.Regexp(t, `logs +1 records stored here at \S+, rows `+recordID+`\.\.`+recordID+`, audit entry seq \d+, anchored `, out)
	assert.Regexp(t, `logs +1 records delivered to remote at `, out, "where else it went, and when")
	assert.Regexp(t, `redacted +1 values in 1 records \(email in 1\)`, out, "the redaction counts")
	assert.Regexp(t, `\n  redacted +email\n`, out, "the record's classes")
	assert.Regexp(t, `resource redacted +1 values in 1 records \(email\) under policy `+pol.Version, out, "its resource's counts and policy version")

	mu.Lock()
	require.NotEmpty(t, remote)
	req := plogotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalProto(remote[0]))
	mu.Unlock()
	v, ok := req.Logs().ResourceLogs().At(0).Resource().Attributes().Get(identity.AttrLineage)
	require.True(t, ok, "the remote copy carries its lineage id")
	assert.Equal(t, lineageID, identity.LineageIDOf(v.Str()))

	// A time range: the requests accepted in it, and only those.
	code, out = ctl(t, "lineage", "--data", store, "--tenant", "acme", "--until", mark.Format(time.RFC3339Nano))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "request "+lineageID+" of acme")
	assert.Equal(t, 1, strings.Count(out, "request "), out)
	waitFor(t, "the second request stored and delivered", 15*time.Second, func() bool {
		code, out = ctl(t, "lineage", "--data", store, "--tenant", "acme", "--since", mark.Format(time.RFC3339Nano))
		return code == 0 && strings.Contains(out, "delivered to remote")
	})
	assert.NotContains(t, out, lineageID)
	assert.Equal(t, 1, strings.Count(out, "request "), out)
	assert.Regexp(t, `redacted +nothing`, out)

	// The spoof's lineage, in the quarantine, names who sent it.
	waitFor(t, "the spoof's lineage in the quarantine", 15*time.Second, func() bool {
		code, out = ctl(t, "lineage", "--data", store, "--tenant", policy.Quarantine, "--since", mark.Format(time.RFC3339Nano))
		return code == 0
	})
	assert.Regexp(t, `sent by +acme with `+regexp.QuoteMeta(identity.KeyID(demoKeys["acme"])), out)
	assert.Regexp(t, `decision +quarantined:spoofed`, out)

	code, out = ctl(t, "audit", "verify", "--data", store, "--tenant", "acme", "--anchors", filepath.Join(store, "~store", "anchors.jsonl"))
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "acme: audit log verified")
}
