package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

func tenancyctl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestPolicyValidate(t *testing.T) {
	good := writeFile(t, "tenants.yaml", "tenants:\n  acme: {identifiers: [acme]}\n  globex: {}\n")
	code, out, _ := tenancyctl(t, "", "policy", "validate", good)
	assert.Equal(t, 0, code)
	assert.Regexp(t, `tenants.yaml: valid, 2 tenants, version [0-9a-f]{16}`, out)

	bad := writeFile(t, "bad.yaml", "tenants:\n  acme: {status: paused}\n  \"a b\": {}\n")
	code, _, errOut := tenancyctl(t, "", "policy", "validate", bad)
	assert.Equal(t, 1, code)
	assert.Equal(t, bad+`:2: tenants.acme.status: must be active or suspended, found "paused"`+"\n"+
		bad+`:3: tenants.a b: tenant id may only hold a-z A-Z 0-9 and ! - _ . * ' ( ): found " " at byte 1`+"\n", errOut)

	code, _, errOut = tenancyctl(t, "", "policy", "validate", filepath.Join(t.TempDir(), "absent.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")

	code, _, _ = tenancyctl(t, "", "policy", "validate")
	assert.Equal(t, 2, code)
}

func TestPolicyHashKey(t *testing.T) {
	code, out, _ := tenancyctl(t, "acme-demo-key-0000000001\n", "policy", "hash-key")
	require.Equal(t, 0, code)
	want, err := policy.HashAPIKey("acme-demo-key-0000000001")
	require.NoError(t, err)
	assert.Equal(t, want+"\n", out)
	assert.NotContains(t, out, "acme-demo-key")

	// The printed hash is accepted by the policy and maps the key to its tenant.
	p, err := policy.Parse("p", []byte("tenants:\n  acme: {api_keys: [\""+strings.TrimSpace(out)+"\"]}\n"))
	require.NoError(t, err)
	ten, ok := p.TenantForKey("acme-demo-key-0000000001")
	require.True(t, ok)
	assert.Equal(t, "acme", ten.ID)

	code, _, errOut := tenancyctl(t, "short\n", "policy", "hash-key")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "at least 16")
	assert.NotContains(t, errOut, "short\n")

	code, _, errOut = tenancyctl(t, "", "policy", "hash-key", "acme-demo-key-0000000001")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "read from stdin")
}

func TestPolicyDiff(t *testing.T) {
	oldP := writeFile(t, "old.yaml", "tenants:\n  acme: {identifiers: [acme]}\n  globex: {}\n")
	newP := writeFile(t, "new.yaml", "tenants:\n  acme: {identifiers: [acme, acme.example], status: suspended}\n  hooli: {}\n")
	code, out, _ := tenancyctl(t, "", "policy", "diff", oldP, newP)
	assert.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, []string{"~ acme: status, identifiers", "- globex", "+ hooli"}, lines[:3])
	assert.Regexp(t, `^version [0-9a-f]{16} -> [0-9a-f]{16}$`, lines[3])

	code, out, _ = tenancyctl(t, "", "policy", "diff", oldP, oldP)
	assert.Equal(t, 0, code)
	assert.True(t, strings.HasPrefix(out, "no tenant changed\n"))

	bad := writeFile(t, "bad.yaml", "tenants: [x]\n")
	code, _, errOut := tenancyctl(t, "", "policy", "diff", oldP, bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "bad.yaml:1: tenants")
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"policy", "--help"}, {"policy", "validate", "--help"}} {
		code, out, errOut := tenancyctl(t, "", args...)
		assert.Equal(t, 0, code, args)
		assert.Contains(t, out+errOut, "tenancyctl policy validate FILE", args)
	}
	code, _, errOut := tenancyctl(t, "", "frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frobnicate"`)
}
