package redact

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// fullRuleBlocks is a policy of n tenants, each with the most rules and
// keywords a block may hold, every keyword distinct.
func fullRuleBlocks(t *testing.T, n int) *policy.Policy {
	t.Helper()
	var b strings.Builder
	b.WriteString("tenants:\n")
	for ti := range n {
		fmt.Fprintf(&b, "  t%d:\n    redaction:\n      rules:\n", ti)
		for ri := range policy.MaxRulesPerBlock {
			fmt.Fprintf(&b, "        r%d: {pattern: 'X%d', keywords: [", ri, ri)
			for k := range 16 {
				if k > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "kw%d_%d_%d", ti, ri, k)
			}
			b.WriteString("]}\n")
		}
	}
	p, err := policy.Parse("p.yaml", []byte(b.String()))
	require.NoError(t, err)
	return p
}

// Compiling a policy's rules is linear in their keywords: a linear search
// per keyword made it quadratic (hostile review: 10 tenants' full rule
// blocks, 20,480 keywords, took 0.40 s; 40 tenants' 5.75 s, 14 times as
// long for 4 times the keywords; 1,000 tenants' would take about an hour,
// at every policy reload). The ratio is compared, not the time, so a
// loaded machine does not fail it: linear gives about 4, quadratic 16.
func TestRuleCompileIsLinearInKeywords(t *testing.T) {
	best := func(p *policy.Policy) time.Duration {
		d := time.Duration(1 << 62)
		for range 3 {
			st := time.Now()
			_, err := New(p, Options{})
			require.NoError(t, err)
			d = min(d, time.Since(st))
		}
		return d
	}
	small, large := best(fullRuleBlocks(t, 10)), best(fullRuleBlocks(t, 40))
	ratio := float64(large) / float64(small)
	t.Logf("New: 10 tenants %v, 40 tenants %v (x%.1f)", small, large, ratio)
	assert.Less(t, ratio, 9.0, "4 times the keywords took %.1f times as long", ratio)
}
