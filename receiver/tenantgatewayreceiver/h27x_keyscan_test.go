package tenantgatewayreceiver

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h27xWhitespaceBeforeArrays is a body of ws bytes of whitespace between
// a key's colon and an array of k empty arrays: each array opened after
// the colon made keyBefore read the whitespace again (3cb40dd), k times
// ws bytes in all.
func h27xWhitespaceBeforeArrays(ws, k int) []byte {
	return []byte(`{"resourceLogs":` + strings.Repeat(" ", ws) + `[` + repeatJoined("[]", k) + `]}`)
}

// BenchmarkH27xScanJSONWhitespace: the OTLP/JSON cost pass on a 128 KiB
// body, half whitespace after a colon and half empty arrays (at 3cb40dd
// about half a second; a 1 MiB one 30 s).
func BenchmarkH27xScanJSONWhitespace(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"whitespace_then_arrays", h27xWhitespaceBeforeArrays(1<<16, (1<<16)/3)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				_, _ = checkJSONCost(c.body, 0, true)
			}
		})
	}
}

// TestH27xJSONCostSameIndented: the pass reads an array's key across
// whitespace (json.Indent's, and tabs and newlines around the colon) as
// it reads it compact: honest histograms cost the same either way.
func TestH27xJSONCostSameIndented(t *testing.T) {
	compact := honestHistograms(t, 200<<10)
	var indented bytes.Buffer
	require.NoError(t, json.Indent(&indented, compact, "", "\t"))
	spaced := bytes.ReplaceAll(compact, []byte(`":[`), []byte("\"\r\n :\t\n ["))
	want, herr := checkJSONCost(compact, 0, true)
	require.Nil(t, herr)
	for _, body := range [][]byte{indented.Bytes(), spaced} {
		got, herr := checkJSONCost(body, 0, true)
		require.Nil(t, herr)
		assert.Equal(t, want, got)
	}
}
