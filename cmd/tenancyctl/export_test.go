package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestExportCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	code, out, errOut := tenancyctl(t, "", "export", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--since", "1h")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, errOut, "acme: 1 logs, 0 data points, 0 spans")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 1)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(lines[0]))
	require.NoError(t, err)
	assert.Equal(t, "acme-log-1", ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body().Str(), "only the record of the last hour")

	code, _, _ = tenancyctl(t, "", "export", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--signal", "events")
	assert.Equal(t, 2, code)
	code, _, errOut = tenancyctl(t, "", "export", "--data", dir, "--master-key-file", keyFile, "--tenant", "nobody")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no data")
}
