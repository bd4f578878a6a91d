package redact

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGolden redacts testdata/<case>/input.json (OTLP/JSON lines, as the file
// exporter writes them) under testdata/policy.yaml and compares the result
// with expected.json byte for byte. The output is a stream of lines that may
// mix signals (testdata/mixed), and its exact bytes are the contract with
// the file exporter's readers, so it is not read back as one pdata value
// through contrib's pkg/golden. To regenerate, as pkg/golden's Write* do:
// add os.WriteFile(golden, out.Bytes(), 0o600) before the read, run once,
// remove it and review the diff.
func TestGolden(t *testing.T) {
	r := testRedactor(t)
	dirs, err := filepath.Glob("testdata/*/input.json")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			input, err := os.ReadFile(in)
			require.NoError(t, err)
			var out bytes.Buffer
			sum, err := RedactOTLPJSON(r, bytes.NewReader(input), &out)
			require.NoError(t, err)
			assert.Equal(t, strings.Count(string(bytes.TrimSpace(input)), "\n")+1, sum.Lines)
			assert.Positive(t, sum.Stats.Total())

			// Same records out as in.
			var again bytes.Buffer
			sum2, err := RedactOTLPJSON(r, bytes.NewReader(out.Bytes()), &again)
			require.NoError(t, err)
			assert.Equal(t, sum.Records, sum2.Records)

			golden := filepath.Join(dir, "expected.json")
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), out.String(), golden)
		})
	}
}
