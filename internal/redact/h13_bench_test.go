package redact

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// BenchmarkH13CleanLogs is the redactor alone on the processor
// benchmark's clean records (95% of its batch), per record.
func BenchmarkH13CleanLogs(b *testing.B) {
	const records = 1000
	src := redactbench.Logs(1, -1, records)
	for _, n := range []int{10, 100, 1000, 10000} {
		r, err := New(redactbench.Policy(b, n), Options{})
		require.NoError(b, err)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				if st := r.Logs(src); st.Total() != 0 {
					b.Fatalf("clean records changed: %v", st.Redactions)
				}
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N*records), "cpu-ns/record")
		})
	}
}

// BenchmarkH13Strings is the scan and prefilters (pass.layer) alone on
// each of the strings the clean record's redaction scans every time.
func BenchmarkH13Strings(b *testing.B) {
	r, err := New(redactbench.Policy(b, 1000), Options{})
	require.NoError(b, err)
	strs := map[string]string{
		"body":    fmt.Sprintf(redactbench.Bodies[0], 80007),
		"body4":   fmt.Sprintf(redactbench.Bodies[4], 80035),
		"url":     fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", redactbench.TenantName(1), 80007),
		"session": redactbench.SessionID(2),
		"thread":  "worker-11",
	}
	for _, name := range []string{"body", "body4", "url", "session", "thread"} {
		s := strs[name]
		ps := r.newPass()
		ps.ru = r.rulesFor(redactbench.TenantName(1))
		b.Run("s="+name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				if _, changed, _ := ps.str(s); changed {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkH13Steps is the automaton's walk alone (steps) on the strings
// of BenchmarkH13Strings.
func BenchmarkH13Steps(b *testing.B) {
	m, err := NewMatcher(redactbench.Policy(b, 1000))
	require.NoError(b, err)
	strs := map[string]string{
		"body":    fmt.Sprintf(redactbench.Bodies[0], 80007),
		"url":     fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", redactbench.TenantName(1), 80007),
		"session": redactbench.SessionID(2),
		"thread":  "worker-11",
	}
	for _, name := range []string{"body", "url", "session", "thread"} {
		s := strs[name]
		states := make([]uint32, len(s))
		b.Run("s="+name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				m.ac.steps(s, states)
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
