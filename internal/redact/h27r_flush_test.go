package redact

import (
	"math/bits"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// classNamesRef is classNames' built-in part before h27r: a walk of every
// built-in class in name order.
func classNamesRef(r *Redactor, set uint32) []string {
	var out []string
	for _, c := range r.byName {
		if set&(1<<c) != 0 {
			out = append(out, c.String())
		}
	}
	return out
}

// TestH27rClassNamesByRank: the class names of a set read by rank are the
// walk of every class in name order, for every set of up to three
// classes and 20,000 random ones, with and without tenant rules after
// them.
func TestH27rClassNamesByRank(t *testing.T) {
	p := h26zPolicies(t)["rules"]
	r, err := New(p, Options{HashKeys: map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")}, ActiveHashKey: "k1"})
	require.NoError(t, err)
	ps := r.newPass()
	all := uint32(1)<<numClasses - 1
	var sets []uint32
	for s := uint32(0); s <= all; s++ {
		if bits.OnesCount32(s) <= 3 {
			sets = append(sets, s)
		}
	}
	rng := rand.New(rand.NewPCG(27, 1))
	for range 20000 {
		sets = append(sets, rng.Uint32()&all)
	}
	rules := []classCount{{firstRule, 1}}
	for _, set := range sets {
		want := classNamesRef(r, set)
		got, sorted := ps.classNames(nil, set, nil)
		require.Equal(t, want, got, "set %b", set)
		require.True(t, sorted)
		got, _ = ps.classNames(nil, set, rules)
		require.Equal(t, append(want, r.className(firstRule)), got, "set %b with a rule", set)
	}
}

// BenchmarkH27rClassNames is the class list of bench-e2e's dirty record
// (email and foreign_tenant) by the old walk and by rank, in one binary.
func BenchmarkH27rClassNames(b *testing.B) {
	r, err := New(h26rPolicy(b, 10), Options{})
	require.NoError(b, err)
	ps := r.newPass()
	set := uint32(1)<<clsEmail | uint32(1)<<classForeign
	buf := make([]string, 0, 8)
	for _, v := range []string{"walk", "rank"} {
		b.Run("v="+v, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := redactbench.ThreadCPU()
			for b.Loop() {
				if v == "walk" {
					buf = buf[:0]
					for _, c := range r.byName {
						if set&(1<<c) != 0 {
							buf = append(buf, c.String())
						}
					}
				} else {
					buf, _ = ps.classNames(buf[:0], set, nil)
				}
			}
			b.ReportMetric(float64((redactbench.ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
