package redact

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRedactOTLPJSONErrorsNameTheLine(t *testing.T) {
	r := testRedactor(t)
	good := `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"bob@globex.example"}}]}]}]}`
	for _, tc := range []struct{ in, want string }{
		{good + "\n\n{not json\n", "line 3: not JSON"},
		{good + "\n" + `{"resourceProfiles":[]}` + "\n", `line 2: want an object with resourceLogs, resourceMetrics or resourceSpans, found "resourceProfiles"`},
		{`[1,2]`, "line 1: not a JSON object"},
		{`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`, "line 1: traces:"},
	} {
		_, err := RedactOTLPJSON(r, strings.NewReader(tc.in), new(bytes.Buffer))
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestRedactOTLPJSONSummary(t *testing.T) {
	r := testRedactor(t)
	in := `{"resourceLogs":[{"resource":{"attributes":[{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"bob@globex.example"}},{"body":{"stringValue":"ok"}}]}]}]}`
	var out bytes.Buffer
	sum, err := RedactOTLPJSON(r, strings.NewReader(in), &out) // no final newline
	require.NoError(t, err)
	assert.Equal(t, 1, sum.Lines)
	assert.Equal(t, 2, sum.Records)
	assert.Equal(t, map[string]int64{ClassForeignTenant: 1, "email": 1}, sum.ByClass())
	assert.Equal(t, map[string]int64{"acme": 2}, sum.ByTenant())
	assert.NotContains(t, out.String(), "globex")
	assert.Contains(t, out.String(), `"tenant.redaction.count","value":{"intValue":"2"}`)
	assert.True(t, strings.HasSuffix(out.String(), "}\n"))
}
