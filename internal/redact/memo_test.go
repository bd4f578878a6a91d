package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// TestCleanValueMemoIsPerResource: a value that was clean for one owner
// (its own domain) is remembered under its key only until the next
// resource, whose owner may see it as foreign; and a value remembered as
// clean never hides a different value under the same key.
func TestCleanValueMemoIsPerResource(t *testing.T) {
	r := testRedactor(t)
	ld := plog.NewLogs()
	for _, owner := range []string{"globex", "acme", "globex"} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, owner)
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		for _, v := range []string{"https://globex.example/x", "https://globex.example/x", "https://acme.example/y", "https://globex.example/x"} {
			lrs.AppendEmpty().Attributes().PutStr("url.full", v)
		}
	}
	r.Logs(ld)
	const F = "<redacted:foreign_tenant>"
	want := map[string][]string{
		"globex": {"https://globex.example/x", "https://globex.example/x", "https://" + F + "/y", "https://globex.example/x"},
		"acme":   {"https://" + F + "/x", "https://" + F + "/x", "https://acme.example/y", "https://" + F + "/x"},
	}
	for _, rl := range ld.ResourceLogs().All() {
		owner, _ := rl.Resource().Attributes().Get(identity.AttrTenantID)
		var got []string
		for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
			v, _ := lr.Attributes().Get("url.full")
			got = append(got, v.Str())
		}
		assert.Equal(t, want[owner.Str()], got, owner.Str())
	}
}
