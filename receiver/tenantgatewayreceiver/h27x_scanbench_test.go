package tenantgatewayreceiver

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

// BenchmarkH27xScanJSON is the OTLP/JSON cost pass on honest bodies: SDK
// histograms (about 1 MB) and logs (about 7 MB).
func BenchmarkH27xScanJSON(b *testing.B) {
	t := &testing.T{}
	logs, err := (&plog.JSONMarshaler{}).MarshalLogs(testLogs(20000, 8))
	require.NoError(b, err)
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"histograms", honestHistograms(t, 1<<20)},
		{"logs", logs},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				if _, herr := checkJSONCost(c.body, 0, true); herr != nil {
					b.Fatal(herr.msg)
				}
			}
		})
	}
}
