package tenantrouterexporter

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// FuzzParseRetryAfter: any header value gives a wait in [0, 1h], never a
// panic or a negative wait (it found the overflow of "9227000000").
func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "0", "120", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", " 5 "} {
		f.Add(s)
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, v string) {
		if d := parseRetryAfter(v, now); d < 0 || d > maxRetryAfter {
			t.Fatalf("wait %s for %q", d, v)
		}
	})
}

// FuzzPartition: whatever a resource's tenant.id holds, the partition is a
// policy tenant equal to it, or one of the pipeline tenants.
func FuzzPartition(f *testing.F) {
	pol, err := policy.Parse("p", []byte("tenants: {acme: {}, globex: {}}\n"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"acme", "globex", "", "_quarantine", "_governance", "_x", "../acme", "acme ", "ACME"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		m := pcommon.NewMap()
		m.PutStr(identity.AttrTenantID, id)
		got := partition(pol, m)
		switch got {
		case policy.Quarantine, policy.Governance:
			if got != id {
				if _, ok := m.Get(identity.AttrQuarantineReason); !ok {
					t.Fatalf("%q quarantined without a reason", id)
				}
			}
		default:
			if got != id {
				t.Fatalf("%q routed to %q", id, got)
			}
			if _, ok := pol.Tenant(got); !ok {
				t.Fatalf("%q is not a policy tenant", got)
			}
		}
	})
}
