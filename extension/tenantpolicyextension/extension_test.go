package tenantpolicyextension

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

const (
	acmeKey   = "acme-test-key-0000000001"
	globexKey = "globex-test-key-000000001"
)

type harness struct {
	ext  *policyExtension
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
	path string
}

func start(t testing.TB, policyYAML string, mutate func(*Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policyYAML), 0o600))
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Path = path
	cfg.ReloadInterval = 100 * time.Millisecond
	if mutate != nil {
		mutate(cfg)
	}
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	core, logs := observer.New(zap.DebugLevel)
	set := extensiontest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	ext, err := NewFactory().Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return &harness{ext: ext.(*policyExtension), tel: tel, logs: logs, path: path}
}

func readTestPolicy(t testing.TB) string {
	data, err := os.ReadFile("testdata/tenants.yaml")
	require.NoError(t, err)
	return string(data)
}

func TestAuthenticate(t *testing.T) {
	h := start(t, readTestPolicy(t), nil)
	tests := []struct {
		name       string
		sources    map[string][]string
		wantTenant string
		wantErr    string
	}{
		{"bearer", map[string][]string{"Authorization": {"Bearer " + acmeKey}}, "acme", ""},
		{"bearer lower-case grpc", map[string][]string{"authorization": {"bearer " + acmeKey}}, "acme", ""},
		{"x-api-key", map[string][]string{"X-Api-Key": {acmeKey}}, "acme", ""},
		{"x-api-key grpc", map[string][]string{"x-api-key": {globexKey}}, "globex", ""},
		{"basic is not a key", map[string][]string{"Authorization": {"Basic " + acmeKey}}, "", "no API key"},
		{"unknown key", map[string][]string{"X-API-Key": {"not-a-key-of-anyone-0001"}}, "", "API key not recognised"},
		{"missing", map[string][]string{"Content-Type": {"application/x-protobuf"}}, "", "no API key"},
		{"empty bearer", map[string][]string{"Authorization": {"Bearer "}}, "", "no API key"},
		// Without trusted header mode the header is only a claim and is
		// neither believed nor allowed to override the key.
		{"header ignored when not trusted", map[string][]string{"X-Scope-OrgID": {"globex"}}, "", "no API key"},
		{"header beside key not trusted", map[string][]string{"X-Scope-OrgID": {"globex"}, "X-API-Key": {acmeKey}}, "acme", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, err := h.ext.Authenticate(context.Background(), tt.sources)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				_, _, ok := identity.FromContext(ctx)
				assert.False(t, ok)
				return
			}
			require.NoError(t, err)
			tenant, src, ok := identity.FromContext(ctx)
			require.True(t, ok)
			assert.Equal(t, tt.wantTenant, tenant)
			assert.Equal(t, identity.SourceAPIKey, src)
		})
	}

	// Refusals are counted by reason.
	m, err := h.tel.GetMetric("otelcol_tenantpolicy_auth_refused")
	require.NoError(t, err)
	counts := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("reason")
		counts[r.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"missing_credentials": 4, "unknown_key": 1}, counts)

	// No key, known or not, is ever written to the log.
	for _, e := range h.logs.All() {
		line := e.Message + " " + strings.Join(fieldStrings(e), " ")
		for _, k := range []string{acmeKey, globexKey, "not-a-key-of-anyone-0001"} {
			assert.NotContains(t, line, k)
		}
	}
}

// An accepted key leaves its short id in the auth data, so a quarantined
// spoof can name the credential that sent it; never the key itself.
func TestAuthenticateCredential(t *testing.T) {
	h := start(t, readTestPolicy(t), nil)
	ctx, err := h.ext.Authenticate(context.Background(), map[string][]string{"X-API-Key": {acmeKey}})
	require.NoError(t, err)
	a, ok := identity.AuthFromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceAPIKey, Credential: identity.KeyID(acmeKey)}, a)
	assert.NotContains(t, a.Credential, acmeKey)

	// Another key of another tenant has another id.
	ctx, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-API-Key": {globexKey}})
	require.NoError(t, err)
	b, _ := identity.AuthFromContext(ctx)
	assert.NotEqual(t, a.Credential, b.Credential)

	// A trusted header proves no credential.
	h = start(t, readTestPolicy(t), func(c *Config) { c.TrustedHeader.Enabled = true })
	ctx, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-Scope-OrgID": {"acme"}})
	require.NoError(t, err)
	c, _ := identity.AuthFromContext(ctx)
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceTrustedHeader}, c)
}

func fieldStrings(e observer.LoggedEntry) []string {
	var out []string
	for k, v := range e.ContextMap() {
		out = append(out, k, toString(v))
	}
	return out
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func TestAuthenticateTrustedHeader(t *testing.T) {
	h := start(t, readTestPolicy(t), func(c *Config) { c.TrustedHeader.Enabled = true })

	ctx, err := h.ext.Authenticate(context.Background(), map[string][]string{"x-scope-orgid": {"acme"}})
	require.NoError(t, err)
	tenant, src, ok := identity.FromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, "acme", tenant)
	assert.Equal(t, identity.SourceTrustedHeader, src)
	assert.False(t, src.Verified())

	// A key still wins, and a header that contradicts it is refused.
	_, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-Scope-OrgID": {"globex"}, "X-API-Key": {acmeKey}})
	require.ErrorContains(t, err, "names another tenant than the API key")
	ctx, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-Scope-OrgID": {"acme"}, "X-API-Key": {acmeKey}})
	require.NoError(t, err)
	_, src, _ = identity.FromContext(ctx)
	assert.Equal(t, identity.SourceAPIKey, src)

	_, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-Scope-OrgID": {"../etc"}})
	require.ErrorContains(t, err, "not a valid tenant id")
}

func TestStartRefusesInvalidPolicy(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte("tenants:\n  acme: {status: paused}\n"), 0o600))
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Path = path
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	err = ext.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, path+`:2: tenants.acme.status: must be active or suspended, found "paused"`)
	require.NoError(t, ext.Shutdown(context.Background()))
}

func TestHotReload(t *testing.T) {
	h := start(t, readTestPolicy(t), nil)
	v1 := h.ext.Policy().Version
	newKey := "initech-test-key-00000001"
	hash, err := policy.HashAPIKey(newKey)
	require.NoError(t, err)

	// A valid change is in force within a few intervals.
	require.NoError(t, os.WriteFile(h.path, []byte(readTestPolicy(t)+"  initech:\n    api_keys: [\""+hash+"\"]\n"), 0o600))
	require.Eventually(t, func() bool {
		_, err := h.ext.Authenticate(context.Background(), map[string][]string{"X-API-Key": {newKey}})
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
	v2 := h.ext.Policy().Version
	assert.NotEqual(t, v1, v2)

	// A broken file keeps the last good policy, and says so once.
	require.NoError(t, os.WriteFile(h.path, []byte("tenants:\n  acme: {bogus: 1}\n"), 0o600))
	require.Eventually(t, func() bool {
		return h.logs.FilterMessageSnippet("change refused").Len() > 0
	}, 5*time.Second, 20*time.Millisecond)
	time.Sleep(350 * time.Millisecond) // several more polls of the same broken file
	assert.Equal(t, 1, h.logs.FilterMessageSnippet("change refused").Len())
	assert.Equal(t, v2, h.ext.Policy().Version)
	_, err = h.ext.Authenticate(context.Background(), map[string][]string{"X-API-Key": {newKey}})
	assert.NoError(t, err)
	entry := h.logs.FilterMessageSnippet("change refused").All()[0]
	assert.Contains(t, entry.ContextMap()["error"], "tenants.acme.bogus: unknown key")

	m, err := h.tel.GetMetric("otelcol_tenantpolicy_reloads")
	require.NoError(t, err)
	counts := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		r, _ := dp.Attributes.Value("result")
		counts[r.AsString()] = dp.Value
	}
	assert.Equal(t, map[string]int64{"success": 2, "failure": 1}, counts)

	// Deleting the file also keeps the policy in force.
	require.NoError(t, os.Remove(h.path))
	require.Eventually(t, func() bool {
		return h.logs.FilterMessageSnippet("unreadable").Len() == 1
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, v2, h.ext.Policy().Version)
}

// Authentication and reload race: readers must always see a whole policy.
func TestAuthenticateDuringReloads(t *testing.T) {
	h := start(t, readTestPolicy(t), nil)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = os.WriteFile(h.path, []byte(readTestPolicy(t)+"  t"+string(rune('a'+i%26))+"x: {}\n"), 0o600)
			h.ext.reload(context.Background())
		}
	}()
	for i := 0; i < 2000; i++ {
		ctx, err := h.ext.Authenticate(context.Background(), map[string][]string{"X-API-Key": {acmeKey}})
		require.NoError(t, err)
		tenant, _, _ := identity.FromContext(ctx)
		require.Equal(t, "acme", tenant)
	}
	close(stop)
	<-done
}
