package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackupRestoreCommands(t *testing.T) {
	dir, keyFile := seedStore(t)
	out := t.TempDir()
	code, stdout, errOut := tenancyctl(t, "", "backup", "--data", dir, "--master-key-file", keyFile, "--all", "--out", out)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^acme: backed up to .*acme: 2 rows, \d+ bytes, audit head seq 2 hash k1:[0-9a-f]{64}$`, stdout)
	assert.Contains(t, stdout, "globex: backed up")

	fresh := t.TempDir()
	code, stdout, errOut = tenancyctl(t, "", "restore", "--data", fresh, "--master-key-file", keyFile, "--from", out)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, stdout, "acme: restored from "+filepath.Join(out, "acme"))
	for _, tn := range []string{"acme", "globex"} {
		code, stdout, errOut = tenancyctl(t, "", "audit", "verify", "--data", fresh, "--master-key-file", keyFile, "--tenant", tn)
		require.Equal(t, 0, code, errOut)
		assert.Contains(t, stdout, tn+": audit log verified, 3 entries, 2 data rows accounted for", "two ingests and the restore")
		code, stdout, _ = tenancyctl(t, "", "query", "--data", fresh, "--master-key-file", keyFile, "--tenant", tn, "--format", "csv", "SELECT body FROM logs ORDER BY id")
		require.Equal(t, 0, code)
		assert.Equal(t, "body\n"+tn+"-log-0\n"+tn+"-log-1\n", stdout)
	}
	// Again: the store holds them now.
	code, _, errOut = tenancyctl(t, "", "restore", "--data", fresh, "--master-key-file", keyFile, "--from", filepath.Join(out, "acme"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "holds tenant acme already")
	code, _, _ = tenancyctl(t, "", "backup", "--data", dir, "--master-key-file", keyFile, "--out", out)
	assert.Equal(t, 2, code, "--tenant or --all")
}
