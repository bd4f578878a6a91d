package tenantgatewayreceiver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// nestedKvlistLogs is one log record whose body nests depth kvlists.
func nestedKvlistLogs(depth int) plog.Logs {
	ld := plog.NewLogs()
	v := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body()
	for range depth {
		v = v.SetEmptyMap().PutEmpty("k")
	}
	v.SetStr("leaf")
	return ld
}

func TestCheckJSONDepth(t *testing.T) {
	tests := []struct {
		body    string
		max     int
		wantErr string
	}{
		{`{}`, 1, ""},
		{`[[]]`, 1, "deeper than 1 levels (line 1, column 2, offset 1)"},
		{`{"a":[{"b":{}}]}`, 4, ""},
		{`{"a":[{"b":{}}]}`, 3, "offset 11"},
		// Brackets inside strings, escaped quotes among them, are text.
		{`{"a":"[[[{{{\"[[[["}`, 1, ""},
		{`{"a":"\\"}`, 1, ""},
		{"{\n \"a\": [[1]]}", 2, "line 2, column 8"},
		// Unbalanced input is the decoder's to refuse, not this scan's.
		{`]]]]{`, 1, ""},
	}
	for _, tt := range tests {
		herr := checkJSONDepth([]byte(tt.body), tt.max)
		if tt.wantErr == "" {
			assert.Nil(t, herr, tt.body)
			continue
		}
		require.NotNil(t, herr, tt.body)
		assert.Equal(t, http.StatusBadRequest, herr.status)
		assert.Equal(t, "too_deep", herr.reason)
		assert.Contains(t, herr.msg, tt.wantErr)
	}
}

// What protobuf admits, JSON admits; far deeper JSON is refused with 400
// before pdata recurses into it, on the OTLP and the Loki JSON paths.
func TestDeepJSONIsRefusedBeforeDecoding(t *testing.T) {
	tg := startGateway(t, policyWith(t, "", ""))

	ok := nestedKvlistLogs(33)
	_, herr := decodeOTLP(signalLogs, false, logsProto(t, ok))
	require.Nil(t, herr, "protobuf admits 33 nested kvlists")
	r := tg.post(t, "/v1/logs", keyAcme, logsJSON(t, ok), "Content-Type", ctJSON)
	require.Equal(t, http.StatusOK, r.status, r.body)

	deep := logsJSON(t, nestedKvlistLogs(5000))
	for _, path := range []string{"/v1/logs", "/v1/metrics", "/v1/traces"} {
		r = tg.post(t, path, keyAcme, deep, "Content-Type", ctJSON)
		assert.Equal(t, http.StatusBadRequest, r.status, path)
		assert.Contains(t, r.body, "deeper than 160 levels", path)
	}
	loki := `{"streams":[{"stream":{"job":"a"},"values":[["1","x",` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `]]}]}`
	r = tg.post(t, "/loki/api/v1/push", keyAcme, []byte(loki), "Content-Type", ctJSON)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "deeper than 160 levels")
	assert.Len(t, tg.sink.all(), 1)
}

// A body of empty objects decodes into about 80 bytes per byte: refused
// (413) from its object count alone, while ordinary OTLP/JSON of the same
// size passes.
func TestJSONThatWouldDecodeTooLargeIsRefused(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_decompressed_bytes: 1MiB", ""))
	for _, a := range amplifiers {
		if a.name == "ordinary" || a.name == "nested_kvlists" {
			r := tg.post(t, "/v1/logs", keyAcme, a.build(1<<20-1024), "Content-Type", ctJSON)
			assert.Equal(t, http.StatusOK, r.status, "%s: %s", a.name, r.body)
			continue
		}
		r := tg.post(t, "/v1/logs", keyAcme, a.build(1<<20-1024), "Content-Type", ctJSON)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, a.name)
		assert.Contains(t, r.body, "objects and array values, which would take about", a.name)
		assert.Contains(t, r.body, "over 16 times the tenant's max_decompressed_bytes 1048576", a.name)
	}
	assert.Len(t, tg.sink.all(), 2)
}

// TestStrayClosersBuyNoDepth: closers before any opener cannot lower the
// count below zero and let deeper nesting through.
func TestStrayClosersBuyNoDepth(t *testing.T) {
	body := []byte(strings.Repeat("]", 50) + strings.Repeat("[", maxJSONDepth+1))
	if herr := checkJSONDepth(body, maxJSONDepth); herr == nil {
		t.Fatal("nesting past the limit passed after stray closers")
	}
}
