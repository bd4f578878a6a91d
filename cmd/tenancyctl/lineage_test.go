package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
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
	lr.Attributes().PutEmptySlice(identity.AttrRedactionClasses).AppendEmpty().SetStr("email")
	redactedResource(rl.Resource().Attributes(), 1, 1, "pv-7", "email")
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
	assert.Regexp(t, `\n  redacted +email\n`, out, "the record's classes")
	assert.Regexp(t, `resource redacted +1 values in 1 records \(email\) under policy pv-7`, out, "the resource's counts")

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

// withRequest stamps ld's resources with a request's lineage as the
// tenant processor does.
func withRequest(ld plog.Logs, id string, accepted time.Time) plog.Logs {
	l := identity.Lineage{ID: id, Accepted: accepted.UnixNano(), Tenant: "acme", Auth: "api_key", Credential: "key:0123456789ab",
		Client: "192.0.2.7:5555", Collector: "collector-7", PolicyVersion: "pv-7"}
	for _, rl := range ld.ResourceLogs().All() {
		rl.Resource().Attributes().PutStr(identity.AttrLineage, l.Encode())
	}
	return ld
}

func TestLineageOfRequests(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	t0 := time.Now().Add(-time.Hour)
	mk := func(id string, accepted time.Time, bodies ...string) plog.Logs {
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
		rl.Resource().Attributes().PutStr(identity.AttrRetention, "30d")
		for _, b := range bodies {
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(accepted))
			lr.Body().SetStr(b)
			if strings.Contains(b, "<redacted:email>") {
				lr.Attributes().PutEmptySlice(identity.AttrRedactionClasses).AppendEmpty().SetStr("email")
				redactedResource(rl.Resource().Attributes(), 1, 1, "pv-7", "email")
			}
		}
		return withRequest(ld, id, accepted)
	}
	early := mk("0190aaaa000070008000000000000001", t0, "paid by <redacted:email>", "shipped")
	late := mk("0190aaaa000070008000000000000002", t0.Add(30*time.Minute), "refund")
	require.NoError(t, s.WriteLogs("acme", early, "pv-7"))
	require.NoError(t, s.WriteLogs("acme", late, "pv-7"))
	require.NoError(t, s.RecordDelivery("acme", "logs", localstore.LogsLineage(early), "remote", t0.Add(time.Second), "pv-7"))
	require.NoError(t, s.Close())
	base := []string{"lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme"}

	// The record seedStore wrote are ids 1, 2; early's are 3, 4.
	code, out, errOut := tenancyctl(t, "", append(base, "--record", "3")...)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `request +0190aaaa000070008000000000000001`, out)
	assert.Regexp(t, `sent by +acme with key:0123456789ab \(api_key\)`, out)
	assert.Regexp(t, `from +client 192\.0\.2\.7:5555`, out)
	assert.Regexp(t, `decision +accepted under policy version pv-7`, out)
	assert.Regexp(t, `accepted +\S+ by collector collector-7`, out)
	assert.Regexp(t, `logs +2 records stored here at \S+, rows 3\.\.4, audit entry seq \d+`, out)
	assert.Regexp(t, `logs +2 records delivered to remote at `+regexpQuote(t0.Add(time.Second).UTC().Format(time.RFC3339Nano)), out)
	assert.Regexp(t, `redacted +1 values in 1 records \(email in 1\)`, out)
	assert.Regexp(t, `retention +kept 30d`, out)
	assert.Regexp(t, `\n  redacted +email\n`, out, "the record's own redaction")
	assert.Regexp(t, `resource redacted +1 values in 1 records \(email\) under policy pv-7`, out, "its resource's")

	// A window: only the requests accepted in it.
	code, out, errOut = tenancyctl(t, "", append(base, "--since", t0.Add(10*time.Minute).Format(time.RFC3339Nano))...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "request 0190aaaa000070008000000000000002 of acme")
	assert.NotContains(t, out, "0190aaaa000070008000000000000001")
	code, out, errOut = tenancyctl(t, "", append(base, "--since", t0.Add(-time.Minute).Format(time.RFC3339Nano), "--until", t0.Add(time.Minute).Format(time.RFC3339Nano))...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "request 0190aaaa000070008000000000000001 of acme")
	assert.NotContains(t, out, "0190aaaa000070008000000000000002")
	code, out, errOut = tenancyctl(t, "", append(base, "--since", t0.Add(-time.Minute).Format(time.RFC3339Nano), "--max", "1")...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, 1, strings.Count(out, "request 0190"), out)
	assert.Contains(t, out, "request 0190aaaa000070008000000000000001 of acme", "the earliest first")
	assert.Contains(t, out, "more requests: raise --max")
	code, _, _ = tenancyctl(t, "", append(base, "--since", time.Now().Add(time.Hour).Format(time.RFC3339Nano))...)
	assert.Equal(t, 1, code, "an empty window is an error")
	code, _, _ = tenancyctl(t, "", append(base, "--since", "1h", "--record", "3")...)
	assert.Equal(t, 2, code, "one mode at a time")
}

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }

// redactedResource stamps a resource as the redactor does when anything
// in it changed.
func redactedResource(res pcommon.Map, values, records int64, version string, classes ...string) {
	res.PutInt(identity.AttrRedactionCount, values)
	res.PutInt(identity.AttrRedactionRecords, records)
	cs := res.PutEmptySlice(identity.AttrRedactionClasses)
	for _, c := range classes {
		cs.AppendEmpty().SetStr(c)
	}
	res.PutStr(identity.AttrRedactionPolicyVersion, version)
}

// A record stored before the redactor moved its counts to the resource
// still shows them; one stored after shows its classes.
func TestRecordRedaction(t *testing.T) {
	assert.Equal(t, "email, phone", recordRedaction([]any{"email", "phone"}, map[string]any{}))
	assert.Equal(t, "2 values (email) under policy pv-6", recordRedaction([]any{"email"}, map[string]any{
		identity.AttrRedactionCount: float64(2), identity.AttrRedactionPolicyVersion: "pv-6"}))
}

// A request relayed from an edge names the edge's request: where it first
// came in, from which client, with which key.
func TestLineageUpstreamShown(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("relayed")
	edge := identity.Lineage{ID: "0190bbbb000070008000000000000009", Accepted: time.Now().UnixNano(), Tenant: "acme", Auth: "api_key",
		Credential: "key:0123456789ab", Client: "198.51.100.9:4444", Collector: "edge-1", PolicyVersion: "pv-7"}
	rl.Resource().Attributes().PutStr(identity.AttrLineage, identity.Lineage{ID: "0190bbbb00007000800000000000000a", Accepted: time.Now().UnixNano(),
		Tenant: "acme", Auth: "kafka_topic", Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka", Collector: "processing-1",
		PolicyVersion: "pv-7", Upstream: &edge}.Encode())
	require.NoError(t, s.WriteLogs("acme", ld, "pv-7"))
	require.NoError(t, s.Close())
	code, out, errOut := tenancyctl(t, "", "lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--record", "3")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `sent by +acme with topic:tenancy\.acme\.logs \(kafka_topic\)`, out)
	assert.Regexp(t, `upstream +request 0190bbbb000070008000000000000009 accepted \S+ by collector edge-1: sent by acme with key:0123456789ab \(api_key\) from client 198\.51\.100\.9:4444`, out)
}

// A writer of a tenant's topic chooses the upstream's facts: an escape
// sequence or a newline in them is printed escaped, never reaching the
// investigator's terminal as one or forging a line of the report.
func TestLineageFactsPrintedEscaped(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("relayed")
	edge := identity.Lineage{ID: "0190bbbb000070008000000000000009", Tenant: "acme", Client: "\x1b]0;owned\x07\x1b[2J",
		Collector: "edge-1\n  decision\tnothing to see"}
	rl.Resource().Attributes().PutStr(identity.AttrLineage, identity.Lineage{ID: "0190bbbb00007000800000000000000a", Accepted: time.Now().UnixNano(),
		Tenant: "acme", Auth: "kafka_topic", Credential: "topic:tenancy.acme.logs", Upstream: &edge}.Encode())
	require.NoError(t, s.WriteLogs("acme", ld, "pv-7"))
	require.NoError(t, s.Close())
	code, out, errOut := tenancyctl(t, "", "lineage", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--record", "3")
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, out, "\x1b")
	assert.NotContains(t, out, "\x07")
	assert.Contains(t, out, `client \x1b]0;owned\a\x1b[2J`)
	assert.Contains(t, out, `collector edge-1\n  decision\tnothing to see`)
	assert.Equal(t, 1, strings.Count(out, "decision "), "no forged decision line:\n%s", out)
}
