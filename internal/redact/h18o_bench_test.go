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

// h18oPolicy is make bench-e2e's policy: n tenants, each with a domain and
// a key prefix, masking e-mail addresses.
func h18oPolicy(tb testing.TB, n int) *policy.Policy {
	var b strings.Builder
	b.WriteString("defaults:\n  redaction: {classes: {email: mask}}\ntenants:\n")
	for i := range n {
		fmt.Fprintf(&b, "  t%05d: {identifiers: [t%05d.example, \"ak_t%05d_\"]}\n", i, i, i)
	}
	p, err := policy.Parse("e2e.yaml", []byte(b.String()))
	require.NoError(tb, err)
	return p
}

// BenchmarkH18oSteps is the automaton's walk (steps) over make
// bench-e2e's bodies at 10 tenants: the dirty body names another tenant's
// domain across the middle, where walk2's two walks meet.
func BenchmarkH18oSteps(b *testing.B) {
	m, err := NewMatcher(h18oPolicy(b, 10))
	require.NoError(b, err)
	for _, c := range []struct{ name, s string }{
		{"dirty", "payment retry for a customer of t00005.example, order 4411 failed at checkout"},
		{"clean", "payment retry for a customer of shop.example.org, order 4411 failed at checkout"},
	} {
		states := make([]uint32, len(c.s))
		b.Run("body="+c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				m.ac.steps(c.s, states)
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
