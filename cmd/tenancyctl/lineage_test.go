package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

func TestLineageCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.Resource().Attributes().PutStr(identity.AttrFingerprint, "fp-acme")
	rl.Resource().Attributes().PutStr(identity.AttrRetention, "30d")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	lr.SetTraceID([16]byte{0xab, 1})
	lr.Body().SetStr("order 42 paid by <redacted:email>")
	lr.Attributes().PutInt(identity.AttrRedactionCount, 1)
	lr.Attributes().PutStr(identity.AttrRedactionClasses, "email")
	lr.Attributes().PutStr(identity.AttrRedactionPolicyVersion, "pv-7")
	require.NoError(t, s.WriteLogs("acme", ld, "pv-7"))
	anchors, err := s.Anchors(time.Now())
	require.NoError(t, err)
	require.NoError(t, s.AppendAnchors(anchors))
	require.NoError(t, s.WriteLogs("acme", ld, "pv-7")) // after the anchor
	require.NoError(t, s.Close())

	base := []string{"lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme"}
	code, out, errOut := tenancyctl(t, "", append(base, "--record", "3")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "logs record 3 of acme")
	assert.Regexp(t, `stored +\S+ by audit entry seq 3, policy version pv-7, in a batch of rows 3\.\.3`, out)
	assert.Regexp(t, `anchored +\S+ \(seq 3, `, out)
	assert.Regexp(t, `fingerprint +fp-acme`, out)
	assert.Regexp(t, `retention +30d`, out)
	assert.Regexp(t, `redacted +1 values \(email\) under policy pv-7`, out)

	code, out, errOut = tenancyctl(t, "", append(base, "--trace-id", "ab010000000000000000000000000000")...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "logs record 3 of acme")
	code, out, _ = tenancyctl(t, "", append(base, "--record", "1")...)
	require.Equal(t, 0, code)
	assert.Regexp(t, `anchored +\S+ \(seq 3, `, out, "an anchor covers every entry up to its seq")
	code, out, _ = tenancyctl(t, "", append(base, "--record", "4")...)
	require.Equal(t, 0, code)
	assert.Regexp(t, `anchored +not yet`, out)

	code, _, _ = tenancyctl(t, "", append(base, "--record", "99")...)
	assert.Equal(t, 1, code)
	code, _, _ = tenancyctl(t, "", append(base, "--signal", "metrics", "--trace-id", "ab010000000000000000000000000000")...)
	assert.Equal(t, 2, code)
}
