package tenantsplit

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// hostileValues are tenant.id values a resource may carry, as OTLP/JSON.
var hostileValues = []string{
	`{"stringValue":"acme"}`, `{"stringValue":"globex"}`, `{"stringValue":"initech"}`, `{"stringValue":"hooli"}`,
	`{"stringValue":""}`, `{"stringValue":"_quarantine"}`, `{"stringValue":"_governance"}`, `{"stringValue":"_acme"}`,
	`{"stringValue":"ACME"}`, `{"stringValue":"acme "}`, `{"stringValue":"../acme"}`, `{"stringValue":"acme/../globex"}`,
	`{"stringValue":"acme\u0000"}`, `{"stringValue":"."}`, `{"bytesValue":"YWNtZQ=="}`, `{"intValue":"7"}`,
	`{"arrayValue":{"values":[{"stringValue":"acme"}]}}`, `{"kvlistValue":{"values":[{"key":"tenant.id","value":{"stringValue":"acme"}}]}}`,
	`{}`,
}

// Random batches of resources carrying zero, one or several tenant.id
// values of every kind: each part holds only resources whose one tenant.id
// is the part's key; a resource reaches a policy tenant's part only when
// its single string tenant.id named that active tenant, and a pipeline
// tenant's part only when it named that pipeline tenant; every record is
// in exactly one part.
func TestHostileBatchesSplitByOneRule(t *testing.T) {
	pol := testPolicy(t)
	rng := rand.New(rand.NewPCG(7, 11))
	for range 500 {
		n := 1 + rng.IntN(8)
		want := make([]string, n)
		var b strings.Builder
		b.WriteString(`{"resourceLogs":[`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"resource":{"attributes":[{"key":"n","value":{"intValue":"` + string(rune('0'+i)) + `"}}`)
			k := rng.IntN(4) // 0: none, 1: one, 2-3: repeated
			var vals []string
			for range k {
				v := hostileValues[rng.IntN(len(hostileValues))]
				vals = append(vals, v)
				b.WriteString(`,{"key":"tenant.id","value":` + v + `}`)
			}
			b.WriteString(`]},"scopeLogs":[{"logRecords":[{"body":{"stringValue":"r` + string(rune('0'+i)) + `"}}]}]}`)
			want[i] = policy.Quarantine
			if len(vals) == 1 {
				switch vals[0] {
				case `{"stringValue":"acme"}`:
					want[i] = "acme"
				case `{"stringValue":"globex"}`:
					want[i] = "globex"
				case `{"stringValue":"_governance"}`:
					want[i] = policy.Governance
				}
			}
		}
		b.WriteString(`]}`)
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(b.String()))
		require.NoError(t, err, b.String())
		parts := Logs(pol, ld, ByTenant)
		seen := map[int64]bool{}
		records := 0
		for _, p := range parts {
			records += p.Data.LogRecordCount()
			rls := p.Data.ResourceLogs()
			for i := 0; i < rls.Len(); i++ {
				attrs := rls.At(i).Resource().Attributes()
				id, reason := identity.TenantOf(attrs)
				require.Empty(t, reason, b.String())
				require.Equal(t, p.Key, id, "a part holds only its key's resources: %s", b.String())
				nv, _ := attrs.Get("n")
				require.False(t, seen[nv.Int()], "resource %d twice", nv.Int())
				seen[nv.Int()] = true
				require.Equal(t, want[nv.Int()], p.Key, "resource %d of %s", nv.Int(), b.String())
			}
		}
		require.Equal(t, n, records, "every record in one part")
	}
}
