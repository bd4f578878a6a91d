package redact

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// TestH26rSeverityMemoIsExact: a log's severity text skips the scan when
// it equals the resource's last clean one (setClean). On random batches
// whose resources belong to different tenants (or none) and whose
// severities are clean for one owner and foreign to another, every
// record's severity is what a fresh pass makes of it under its resource's
// rules, and the foreign-identifier count is the number of severities
// that changed.
func TestH26rSeverityMemoIsExact(t *testing.T) {
	r, err := New(h26rPolicy(t, 10), Options{})
	require.NoError(t, err)
	owners := []string{redactbench.TenantName(1), redactbench.TenantName(2), ""}
	sevs := []string{"Info", "INFO", "", "cust00001.example", "cust00002.example", "Info", "warn cust00001.example"}
	rng := rand.New(rand.NewPCG(32, 33))
	for range 300 {
		ld := plog.NewLogs()
		var want []string
		changed := int64(0)
		for range 1 + rng.IntN(6) {
			rl := ld.ResourceLogs().AppendEmpty()
			owner := owners[rng.IntN(len(owners))]
			if owner != "" {
				rl.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
			}
			ref := r.newPass()
			ref.resource(rl.Resource().Attributes())
			lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
			for range rng.IntN(8) {
				sev := sevs[rng.IntN(len(sevs))]
				lrs.AppendEmpty().SetSeverityText(sev)
				out, ch, _ := ref.str(sev)
				want = append(want, out)
				if ch {
					changed++
				}
			}
		}
		st := r.Logs(ld)
		var got []string
		for _, rl := range ld.ResourceLogs().All() {
			for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
				got = append(got, lr.SeverityText())
			}
		}
		require.Equal(t, want, got)
		var foreign int64
		for k, v := range st.Redactions {
			if k.Class == ClassForeignTenant {
				foreign += v
			}
		}
		require.Equal(t, changed, foreign, "%v", st.Redactions)
	}
}
