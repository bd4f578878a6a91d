// Package peertest finds and starts the real test peers (docs/peers.md)
// that `make peers` and .ci/run install. Only tests import it.
package peertest

import (
	"bytes"
	_ "embed"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
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
	t.Fatalf("%s is not installed (set %s): run `make peers` (telemetrygen, victoria-logs, cortex, kfake) or `apt-get install -y prometheus` (.ci/run does both)", name, env)
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

// Output collects a process's output while a test reads it.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Start runs peer bin with args until the test ends and waits, up to
// timeout, until ready answers 200. It returns the peer's output, which is
// also logged if the test fails; a peer that exits or is not ready in
// time fails the test.
func Start(t testing.TB, timeout time.Duration, ready, bin string, args ...string) *Output {
	t.Helper()
	return StartProcess(t, timeout, ready, bin, args...).Out
}

// Process is a running peer a test may stop before it ends.
type Process struct {
	Out    *Output
	cmd    *exec.Cmd
	exited chan struct{}
}

// Pid is the peer's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the peer with SIGTERM (SIGKILL after 10 s) and waits for it.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// StartProcess is Start returning the process.
func StartProcess(t testing.TB, timeout time.Duration, ready, bin string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out := &Output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
		return nil
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	name := filepath.Base(bin)
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(timeout)
	for {
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &Process{Out: out, cmd: cmd, exited: exited}
			}
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before it was ready", name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s", name, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cortexConfig is a single-process, multi-tenant Cortex on the local file
// system (cortex.yaml beside this file; docs/peers.md).
//
//go:embed cortex.yaml
var cortexConfig string

// StartCortex runs a real Cortex (target all, auth enabled: X-Scope-OrgID on
// every request) with its data under a temporary directory, until the test
// ends, and returns its HTTP address once it is ready. args are extra
// flags (e.g. -runtime-config.file=F).
func StartCortex(t testing.TB, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"alerts", "rules"} { // local stores Cortex lists at start
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	httpAddr, grpcAddr := FreeAddr(t), FreeAddr(t)
	port := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	cfg := filepath.Join(dir, "cortex.yaml")
	if err := os.WriteFile(cfg, []byte(strings.NewReplacer("CORTEX_DATA", dir,
		"CORTEX_HTTP_PORT", port(httpAddr), "CORTEX_GRPC_PORT", port(grpcAddr)).Replace(cortexConfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	Start(t, time.Minute, "http://"+httpAddr+"/ready", Binary(t, "TENANCY_CORTEX", "cortex"), append([]string{"-config.file=" + cfg}, args...)...)
	return httpAddr
}
