package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

const redactPolicy = `
defaults:
  redaction:
    classes: {email: mask}
tenants:
  acme: {identifiers: [acme, acme.example]}
  globex: {identifiers: [globex, globex.example]}
`

const redactInput = `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"refund for bob@globex.example via acme.example"}},{"body":{"stringValue":"nothing to see"}}]}]}]}
{"resourceSpans":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"globex"}}]},"scopeSpans":[{"spans":[{"traceId":"01000000000000000000000000000000","spanId":"0100000000000000","name":"GET /acme.example/orders"}]}]}]}
`

func TestRedact(t *testing.T) {
	pol := writeFile(t, "tenants.yaml", redactPolicy)
	code, out, errOut := tenancyctl(t, redactInput, "redact", "--policy", pol)
	require.Equal(t, 0, code, errOut)

	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2, "one line out per line in")
	assert.NotContains(t, out, "globex.example", "globex's identifier inside acme's record")
	assert.NotContains(t, lines[1], "acme.example", "acme's identifier inside globex's span name")
	assert.Contains(t, lines[0], "acme.example", "a tenant's own identifiers stay")
	assert.Contains(t, lines[0], "nothing to see")
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(lines[0]))
	require.NoError(t, err)
	rl := ld.ResourceLogs().At(0)
	res := rl.Resource().Attributes().AsRaw()
	assert.Equal(t, int64(1), res["tenant.redaction.records"], "the resource counts its changed records")
	assert.Contains(t, res, "tenant.redaction.count")
	assert.Contains(t, res, "tenant.redaction.policy_version")
	lrs := rl.ScopeLogs().At(0).LogRecords()
	assert.Equal(t, map[string]any{"tenant.redaction.classes": []any{"email", "foreign_tenant"}}, lrs.At(0).Attributes().AsRaw(), "the changed record carries its classes only")
	assert.Zero(t, lrs.At(1).Attributes().Len(), "the unchanged record nothing")
	assert.Contains(t, errOut, "2 requests, 3 records")
	assert.Contains(t, errOut, "by class:")
	assert.Contains(t, errOut, "foreign_tenant")
	assert.Contains(t, errOut, "by tenant:")
}

func TestRedactFilesAndErrors(t *testing.T) {
	pol := writeFile(t, "tenants.yaml", redactPolicy)
	in := writeFile(t, "in.jsonl", redactInput)
	outPath := filepath.Join(t.TempDir(), "out.jsonl")
	code, stdout, errOut := tenancyctl(t, "", "redact", "--policy", pol, "--in", in, "--out", outPath)
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, stdout)
	got, err := os.ReadFile(outPath)
	require.NoError(t, err)
	assert.Equal(t, 2, strings.Count(string(got), "\n"))

	bad := writeFile(t, "bad.jsonl", redactInput+"{not json\n")
	code, _, errOut = tenancyctl(t, "", "redact", "--policy", pol, "--in", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "line 3")

	code, _, _ = tenancyctl(t, "", "redact")
	assert.Equal(t, 2, code)

	hashPol := writeFile(t, "hash.yaml", "defaults: {redaction: {classes: {email: hash}}}\ntenants: {acme: {}}\n")
	code, _, errOut = tenancyctl(t, "", "redact", "--policy", hashPol)
	assert.Equal(t, 1, code, "a hashing policy without a key is refused")
	assert.NotEmpty(t, errOut)

	t.Setenv("TEST_HASH_KEY", "0123456789abcdef0123")
	code, out, errOut := tenancyctl(t, `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"mail ann@example.org"}}]}]}]}`+"\n",
		"redact", "--policy", hashPol, "--hash-key", "k1=TEST_HASH_KEY", "--active-hash-key", "k1")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "<hash:k1:")
	assert.NotContains(t, out, "ann@example.org")
}

// TestRedactThousandsWithProgress redacts a file of thousands of requests:
// one line out per line in, the summary counts them all, and a progress
// line goes to stderr once the run outlasts the reporting interval.
func TestRedactThousandsWithProgress(t *testing.T) {
	pol := writeFile(t, "tenants.yaml", redactPolicy)
	const requests = 5000
	in := writeFile(t, "in.jsonl", strings.Repeat(redactInput, requests/2))
	outPath := filepath.Join(t.TempDir(), "out.jsonl")

	// A run shorter than the progress interval reports none. The interval
	// is set, not left at its 2 s default, so a slow (loaded, -race) run
	// cannot outlast it.
	old := progressEvery
	t.Cleanup(func() { progressEvery = old })
	progressEvery = time.Hour
	code, _, errOut := tenancyctl(t, "", "redact", "--policy", pol, "--in", in, "--out", outPath)
	require.Equal(t, 0, code, errOut)
	assert.NotContains(t, errOut, "progress:", "a short run reports no progress")
	assert.Contains(t, errOut, "5000 requests, 7500 records")

	progressEvery = time.Millisecond
	code, _, errOut = tenancyctl(t, "", "redact", "--policy", pol, "--in", in, "--out", outPath)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `progress: \d+ requests, \d+ records, \d+\.\d MB read in \d+s`, errOut)
	got, err := os.ReadFile(outPath)
	require.NoError(t, err)
	assert.Equal(t, requests, strings.Count(string(got), "\n"))
	assert.NotContains(t, string(got), "globex.example")
}

// TestRedactRulesAndPrefixes: tenancyctl redact applies what the processor
// applies, key prefixes and tenant-defined rules included.
func TestRedactRulesAndPrefixes(t *testing.T) {
	pol := writeFile(t, "tenants.yaml", `
tenants:
  acme:
    identifiers: [acme.example]
    redaction:
      rules:
        order_id: {pattern: 'ORD-[0-9]{10}', keywords: [ORD-]}
  globex: {identifiers: ['glx_live_k*']}
`)
	in := `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"order ORD-1234567890 key glx_live_k9f2c41ab"}}]}]}]}` + "\n"
	code, out, errOut := tenancyctl(t, in, "redact", "--policy", pol)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "order <redacted:order_id> key <redacted:foreign_tenant>")
	assert.Regexp(t, `order_id\s+1`, errOut)
}

// TestRedactPseudonym: after a rotation (k1 -> k2) the pseudonyms k1 wrote
// are re-derived and verified with k1, the inactive key, and the value's
// k2 pseudonym differs.
func TestRedactPseudonym(t *testing.T) {
	t.Setenv("TEST_K1", "first-secret-0123456")
	t.Setenv("TEST_K2", "second-secret-012345")
	hashPol := writeFile(t, "hash.yaml", "defaults: {redaction: {classes: {email: hash}}}\ntenants: {acme: {}, globex: {}}\n")
	in := `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"ann@example.org"}}]}]}]}` + "\n"
	code, out, errOut := tenancyctl(t, in, "redact", "--policy", hashPol, "--hash-key", "k1=TEST_K1", "--active-hash-key", "k1")
	require.Equal(t, 0, code, errOut)
	written := regexp.MustCompile(`<hash:k1:[0-9a-f]{32}>`).FindString(out)
	require.NotEmpty(t, written, out)

	code, got, errOut := tenancyctl(t, "", "redact", "pseudonym", "--tenant", "acme", "--hash-key", "k1=TEST_K1", "ann@example.org")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, written+"\n", got)

	code, got, _ = tenancyctl(t, "", "redact", "pseudonym", "--tenant", "acme", "--hash-key", "k1=TEST_K1", "--hash-key", "k2=TEST_K2", "--check", written, "ann@example.org")
	assert.Equal(t, 0, code)
	assert.Equal(t, "match\n", got)
	code, got, _ = tenancyctl(t, "", "redact", "pseudonym", "--tenant", "globex", "--hash-key", "k1=TEST_K1", "--check", written, "ann@example.org")
	assert.Equal(t, 1, code, "another tenant's pseudonym of the value differs")
	assert.Contains(t, got, "no match")

	code, got, errOut = tenancyctl(t, "", "redact", "pseudonym", "--tenant", "acme", "--hash-key", "k2=TEST_K2", "ann@example.org")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^<hash:k2:[0-9a-f]{32}>\n$`, got)
	assert.NotEqual(t, strings.TrimPrefix(written, "<hash:k1:"), strings.TrimPrefix(strings.TrimSpace(got), "<hash:k2:"))

	code, _, _ = tenancyctl(t, "", "redact", "pseudonym", "--tenant", "acme", "--hash-key", "k2=TEST_K2", "--check", written, "ann@example.org")
	assert.Equal(t, 2, code, "the key the pseudonym names was not given")
}
