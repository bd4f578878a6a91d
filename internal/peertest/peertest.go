// Package peertest finds the real test peers (PEERS.md) that `make peers`
// and .ci/run install. Only tests import it.
package peertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binary returns the path of peer name: $env if set, then PATH (.ci/run
// installs Debian's prometheus there), then the module's .tools/bin (where
// `make peers` builds telemetrygen, victoria-logs and cortex). A missing
// peer fails the test: the tests never skip for want of one.
func Binary(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if root := moduleRoot(); root != "" {
		p := filepath.Join(root, ".tools", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s is not installed (set %s): run `make peers` (telemetrygen, victoria-logs, cortex) or `apt-get install -y prometheus` (.ci/run does both)", name, env)
	return ""
}

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
