package redact

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// h26rPolicy is the processor's dirtyPolicy (make bench-e2e's): n
// tenants named as redactbench names them, each with its domain and a key
// prefix, every tenant masking e-mail addresses.
func h26rPolicy(tb testing.TB, n int) *policy.Policy {
	var y strings.Builder
	y.WriteString("defaults:\n  redaction: {classes: {email: mask}}\ntenants:\n")
	for i := range n {
		t := redactbench.TenantName(i)
		fmt.Fprintf(&y, "  %s: {identifiers: [%s.example, \"ak_%s_\"]}\n", t, t, t)
	}
	p, err := policy.Parse("dirty.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

// h26rDirty are the strings of one of bench-e2e's dirty records (owner
// tenant 1, the body naming tenant 5), and the clean twin's body.
var h26rDirty = []struct{ name, s string }{
	{"body", "payment retry for a customer of cust00005.example, order 4411 failed at checkout"},
	{"email", "jane.doe.4411@example.com"},
	{"severity", "Info"},
	{"clean", "payment retry for a customer of shop.example.org, order 4411 failed at checkout"},
}

// BenchmarkH26rStrings is pass.str alone on each string of a dirty
// record of BenchmarkRedactAndMarshalDirty, in thread CPU per string.
func BenchmarkH26rStrings(b *testing.B) {
	r, err := New(h26rPolicy(b, 10), Options{})
	require.NoError(b, err)
	for _, c := range h26rDirty {
		ps := r.newPass()
		ps.ru = r.rulesFor(redactbench.TenantName(1))
		b.Run("s="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				ps.str(c.s)
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
