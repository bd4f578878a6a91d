package tenantgatewayreceiver

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/golang/snappy"
	"github.com/stretchr/testify/require"
)

// The fuzz targets feed each decoder path arbitrary bytes: it may refuse
// them, never panic, and whatever it accepts must survive the attribute
// check and record count the gateway runs next. Their seed corpora run in
// plain `go test`.

func checkPayload(t *testing.T, pl payload) {
	_ = checkAttributes(pl, 1)
	_ = pl.records()
}

func FuzzOTLPJSON(f *testing.F) {
	f.Add([]byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"a","value":{"stringValue":"b"}}]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"},"attributes":[{"key":"k","value":{"intValue":"3"}}]}]}]}]}`))
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}`))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"s","traceId":"0af7651916cd43dd8448eb211c80319c"}]}]}]}`))
	f.Add([]byte(`{"resourceLogs": 5}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`{"a":"[\\\"{","b":[[{}]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if d, ok := tokenDepth(body); ok {
			// The byte scan agrees with encoding/json on every valid body.
			require.Nil(t, checkJSONDepth(body, d), "depth %d", d)
			if d > 0 {
				require.NotNil(t, checkJSONDepth(body, d-1), "depth %d", d)
			}
		}
		for _, sig := range []string{signalLogs, signalMetrics, signalTraces} {
			if pl, err := decodeOTLP(sig, true, body); err == nil {
				checkPayload(t, pl)
			}
		}
	})
}

// tokenDepth is the nesting depth of a valid JSON body by encoding/json's
// tokenizer, the reference for checkJSONDepth.
func tokenDepth(body []byte) (int, bool) {
	if !json.Valid(body) {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest, true
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func FuzzLokiProto(f *testing.F) {
	req := lokiRequest()
	pb, err := req.Marshal()
	require.NoError(f, err)
	f.Add(snappy.Encode(nil, pb))
	f.Add(pb)
	f.Add(snappy.Encode(nil, must(pushOf(`{a="b\"c", d = "e"}`, "x").Marshal())))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, body []byte) {
		if raw, herr := decode("snappy", body, 1<<20); herr == nil {
			if ld, err := decodeLokiProto(raw, decodeLimits{}); err == nil {
				checkPayload(t, payload{signal: signalLogs, logs: ld})
			}
		}
		if ld, err := decodeLokiProto(body, decodeLimits{}); err == nil {
			checkPayload(t, payload{signal: signalLogs, logs: ld})
		}
		_, _ = parseLokiLabels(string(body))
	})
}

func FuzzLokiJSON(f *testing.F) {
	f.Add([]byte(lokiJSONBody))
	f.Add([]byte(`{"streams":[{"stream":{"job":"a"},"values":[["1","x",{"k":"v"}]]}]}`))
	f.Add([]byte(`{"streams":[{"stream":{"job":5}}]}`))
	f.Add([]byte("{\"streams\":[\n{"))
	f.Fuzz(func(t *testing.T, body []byte) {
		if ld, err := decodeLokiJSON(body, decodeLimits{}); err == nil {
			checkPayload(t, payload{signal: signalLogs, logs: ld})
		}
	})
}

func FuzzRemoteWrite(f *testing.F) {
	pb, err := remoteWriteRequest().Marshal()
	require.NoError(f, err)
	f.Add(snappy.Encode(nil, pb))
	f.Add(pb)
	f.Add([]byte{0x0a, 0x05, 0x0a})
	f.Fuzz(func(t *testing.T, body []byte) {
		if raw, herr := decode("snappy", body, 1<<20); herr == nil {
			if md, err := decodeRemoteWrite(raw, decodeLimits{}); err == nil {
				checkPayload(t, payload{signal: signalMetrics, metrics: md})
			}
		}
		if md, err := decodeRemoteWrite(body, decodeLimits{}); err == nil {
			checkPayload(t, payload{signal: signalMetrics, metrics: md})
		}
	})
}
