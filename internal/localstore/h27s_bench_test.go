package localstore

import (
	"testing"
	"time"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// BenchmarkH27sParseLineage reads bench-e2e's lineage value, once per
// request: encoding/json (identity.ParseLineage) against parseLineage.
func BenchmarkH27sParseLineage(b *testing.B) {
	s := e2eLineage(3, time.Now())
	for _, path := range []string{"json", "direct"} {
		b.Run("path="+path, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var ok bool
				if path == "json" {
					_, ok = identity.ParseLineage(s)
				} else {
					_, ok = parseLineage(s)
				}
				if !ok {
					b.Fatal(s)
				}
			}
		})
	}
}
