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
