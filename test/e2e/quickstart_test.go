package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The config `make run` starts is one the built collector accepts, with
// the demo secrets the Makefile passes.
func TestQuickstartConfigValidates(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	cmd := exec.Command(collectorBinary(t), "validate", "--config", filepath.Join(root, "config/quickstart.yaml"))
	cmd.Env = append(os.Environ(),
		"TENANCY_POLICY="+filepath.Join(root, "config/tenants.yaml"),
		"TENANCY_DATA_DIR="+t.TempDir(),
		"TENANCY_FINGERPRINT_SECRET=demo-fingerprint-secret-change-me",
		"TENANCY_MASTER_KEY=64656d6f2d6d61737465722d6b65792d6368616e67652d6d652d303030303031")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
}
