package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// A quarantined record's body is listed as a preview: a sender's huge
// records must not fill the listing's byte budget (256 MiB: 64 bodies of
// 4 MiB) and push other senders' records out of it.
func TestQuarantineListsAPreviewOfBodies(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	now := time.Now()
	bodies := []string{strings.Repeat("x", 1<<20), strings.Repeat("é", previewChars+1), strings.Repeat("é", previewChars), "short"}
	for i, b := range bodies {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Quarantine)
		rl.Resource().Attributes().PutStr(identity.AttrAuthenticated, "acme")
		rl.Resource().Attributes().PutStr(identity.AttrQuarantineReason, "unknown")
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr(b)
		require.NoError(t, s.WriteLogs(policy.Quarantine, ld, "v1"))
	}
	require.NoError(t, s.Close())

	code, out, errOut := tenancyctl(t, "", "quarantine", "--data", dir, "--master-key-file", keyFile, "--format", "csv")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{
		strings.Repeat("x", previewChars) + "…",
		strings.Repeat("é", previewChars) + "…",
		strings.Repeat("é", previewChars),
		"short",
	}, csvColumn(t, out, "what"))

	// The whole body is still there for query.
	code, out, errOut = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", keyFile, "--tenant", policy.Quarantine,
		"--format", "csv", "SELECT length(body) AS n FROM logs ORDER BY time_unix_nano LIMIT 1")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, []string{"1048576"}, csvColumn(t, out, "n"))
}
