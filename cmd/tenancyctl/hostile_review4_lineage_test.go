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

// tenant.claimed is what a client wrote as its tenant.id (the tenant
// processor keeps up to 256 bytes of it on a quarantined resource, and
// the redactor never touches the pipeline's keys), so an escape sequence
// or a newline in it is the client's. tenancyctl lineage prints the
// resource's facts: they must come out escaped, like the request's, and
// not clear the investigator's screen or forge a line of the report.
func TestHostileReview4ResourceFactsPrintedEscaped(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr(identity.AttrTenantID, policy.Quarantine)
	res.PutStr(identity.AttrQuarantineReason, "invalid_id")
	res.PutStr(identity.AttrClaimed, "acme\x1b]0;owned\x07\x1b[2J\n  redacted\tnothing")
	res.PutStr(identity.AttrAuthenticated, "acme")
	res.PutStr(identity.AttrSource, "otlp 192.0.2.7:5555")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr("spoof")
	require.NoError(t, s.WriteLogs(policy.Quarantine, ld, "pv-7"))
	require.NoError(t, s.Close())

	code, out, errOut := tenancyctl(t, "", "lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", policy.Quarantine, "--record", "1")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\x07")
	assert.Contains(t, out, `acme\x1b]0;owned\a\x1b[2J\n  redacted\tnothing`)
	assert.Equal(t, 0, strings.Count(out, "\n  redacted"), "no forged redacted line:\n%s", out)
}

// A log body is the client's text, stored as it came: the query's table
// (the default format, meant for a terminal) prints a control character
// in it escaped, as it already turned tabs and newlines into spaces, so
// an OSC sequence in a tenant's log (a window title, a clipboard write)
// never reaches the investigator's terminal as one. json and csv are for
// programs and keep the bytes.
func TestHostileReview4QueryTableEscapesControlCharacters(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr("paid\x1b]52;c;cm0gLXJmIH4K\x07\x1b[2J\ttab\nline")
	require.NoError(t, s.WriteLogs("acme", ld, "pv-7"))
	require.NoError(t, s.Close())

	base := []string{"query", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme"}
	code, out, errOut := tenancyctl(t, "", append(base, "SELECT body FROM logs WHERE body LIKE 'paid%'")...)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\x07")
	assert.Contains(t, out, `paid\x1b]52;c;cm0gLXJmIH4K\a\x1b[2J tab line`)
	code, out, errOut = tenancyctl(t, "", append(base, "--format", "csv", "SELECT body FROM logs WHERE body LIKE 'paid%'")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "\x1b]52;", "csv keeps the bytes")
}

// tenancyctl quarantine prints whom each record claimed, the client's
// tenant.id, through the same table.
func TestHostileReview4QuarantineTableEscapesClaimed(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr(identity.AttrTenantID, policy.Quarantine)
	res.PutStr(identity.AttrQuarantineReason, "invalid_id")
	res.PutStr(identity.AttrClaimed, "acme\x1b[2J\x1b]0;owned\x07")
	res.PutStr(identity.AttrAuthenticated, "acme")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.Body().SetStr("spoof")
	require.NoError(t, s.WriteLogs(policy.Quarantine, ld, "pv-7"))
	require.NoError(t, s.Close())

	code, out, errOut := tenancyctl(t, "", "quarantine", "--data", dir, "--master-key-file", keyFile)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "\x1b")
	assert.Contains(t, out, `acme\x1b[2J\x1b]0;owned\a`)
}
