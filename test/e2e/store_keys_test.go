package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndToEndWrongMasterKeyRefusesToStart: a collector restarted with a
// master key that does not unwrap the store's tenants exits at start with
// an error naming them, instead of answering 200 and dropping the data.
func TestEndToEndWrongMasterKeyRefusesToStart(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), routerConfig)
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("before-restart", ""), map[string]string{"X-API-Key": demoKeys["acme"]}))
	c.stop()
	_, err := os.Stat(filepath.Join(c.dir, "store", "acme", "data.key"))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, collectorBinary(t), "--config", c.configPath)
	cmd.Env = append(os.Environ(), "TENANCY_FINGERPRINT_SECRET="+fingerprintSecret, "TENANCY_MASTER_KEY="+strings.Repeat("0f", 32))
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the collector must not run with a wrong master key:\n%s", out)
	assert.NoError(t, ctx.Err(), "it exited by itself, at start")
	assert.Contains(t, string(out), "does not unwrap")
	assert.Contains(t, string(out), "tenant acme")
}

// TestEndToEndAnchorsAndShred: the collector anchors each chain it
// writes, audit verify checks the chain against the anchor log, and once a
// tenant is shredded (a typo refused first) the collector refuses its data.
func TestEndToEndAnchorsAndShred(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)
	cfg := strings.Replace(routerConfig, "directory: {{DIR}}/store\n", "directory: {{DIR}}/store\n        anchor_interval: 100ms\n", 1)
	require.Contains(t, cfg, "anchor_interval")
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), cfg)
	store := filepath.Join(c.dir, "store")
	acme := map[string]string{"X-API-Key": demoKeys["acme"]}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("anchored", ""), acme))
	waitFor(t, "acme's chain anchored", 15*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(store, "~store", "anchors.jsonl"))
		return strings.Contains(string(b), `"tenant":"acme"`)
	})
	code, out := ctl(t, "audit", "verify", "--data", store, "--tenant", "acme")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "acme: audit log verified")
	assert.Regexp(t, `acme: audit log contains all [1-9]\d* anchors of this chain`, out)

	code, out = ctl(t, "tenant", "shred", "--data", store, "--yes", "acmee")
	assert.Equal(t, 1, code, out)
	_, err := os.Stat(filepath.Join(store, "acmee"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the typo created nothing")
	code, out = ctl(t, "tenant", "shred", "--data", store, "--yes", "acme")
	require.Equal(t, 0, code, out)
	assert.NotEqual(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("after-shred", ""), acme), "a shredded tenant's data is refused")
	assert.Equal(t, http.StatusOK, c.postHTTP(t, "logs", newPayload("globex-goes-on", ""), map[string]string{"X-API-Key": demoKeys["globex"]}))
}
