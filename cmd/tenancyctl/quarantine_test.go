package main

import (
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func TestQuarantineCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	code, _, errOut := tenancyctl(t, "", "quarantine", "--data", dir, "--master-key-file", keyFile)
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "nothing was ever quarantined")

	s := openTestStore(t, dir)
	now := time.Now()
	quarantined := func(sender, claimed, reason string) pcommon.Map {
		m := pcommon.NewMap()
		m.PutStr(identity.AttrTenantID, policy.Quarantine)
		m.PutStr(identity.AttrAuthenticated, sender)
		m.PutStr(identity.AttrClaimed, claimed)
		m.PutStr(identity.AttrQuarantineReason, reason)
		return m
	}
	for i, r := range [][3]string{{"acme", "globex", "spoofed"}, {"globex", "", "unknown"}, {"acme", "", "unknown"}} {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		quarantined(r[0], r[1], r[2]).CopyTo(rl.Resource().Attributes())
		lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Second)))
		lr.Body().SetStr("q-log-" + r[0] + "-" + r[2])
		require.NoError(t, s.WriteLogs(policy.Quarantine, ld, "v1"))
	}
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	quarantined("acme", "initech", "spoofed").CopyTo(rs.Resource().Attributes())
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("q-span")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Minute)))
	require.NoError(t, s.WriteTraces(policy.Quarantine, td, "v1"))
	require.NoError(t, s.Close())

	base := []string{"quarantine", "--data", dir, "--master-key-file", keyFile, "--format", "csv"}
	code, out, errOut := tenancyctl(t, "", append(base, "--by", "acme", "--reason", "spoofed")...)
	require.Equal(t, 0, code, errOut)
	rows := csvColumn(t, out, "what")
	assert.Equal(t, []string{"q-log-acme-spoofed", "q-span"}, rows)
	code, out, _ = tenancyctl(t, "", append(base, "--by", "acme")...)
	require.Equal(t, 0, code)
	assert.Equal(t, []string{"q-log-acme-spoofed", "q-log-acme-unknown", "q-span"}, csvColumn(t, out, "what"))
	code, out, _ = tenancyctl(t, "", append(base, "--reason", "unknown")...)
	require.Equal(t, 0, code)
	assert.Equal(t, []string{"q-log-globex-unknown", "q-log-acme-unknown"}, csvColumn(t, out, "what"))
	assert.Equal(t, []string{"globex", "acme"}, csvColumn(t, out, "sender"))

	code, _, _ = tenancyctl(t, "", append(base, "--reason", "x' OR 1=1 --")...)
	assert.Equal(t, 2, code)
	code, out, errOut = tenancyctl(t, "", append(base, "--by", "a'b")...)
	assert.Equal(t, 0, code, "a quote is allowed in a tenant id, and quoted: %s", errOut)
	assert.Empty(t, csvColumn(t, out, "what"))
}

// csvColumn is one column of a CSV result, by its header.
func csvColumn(t *testing.T, out, name string) []string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, recs)
	i := slices.Index(recs[0], name)
	require.GreaterOrEqual(t, i, 0, "no column %s in %v", name, recs[0])
	var col []string
	for _, r := range recs[1:] {
		col = append(col, r[i])
	}
	return col
}
