package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A rule's cost per scanned byte grows with its compiled program, not with
// its text: `[\w ]{1000}` ten times is 110 characters, well under
// MaxRulePatternLength, and compiles to 10,002 instructions, which took
// 4.9 s to search one 64 KB string that held its keyword (go1 regexp,
// measured in the hostile review). The policy refuses such a rule; the
// patterns rules are written for stay far below the bound.
func TestRedactionRuleProgramSizeIsBounded(t *testing.T) {
	parse := func(pattern string) error {
		_, err := Parse("p.yaml", []byte("tenants:\n  acme:\n    redaction:\n      rules:\n        order_id:\n          {pattern: '"+pattern+"', keywords: [kw0]}\n"))
		return err
	}
	for _, p := range []string{strings.Repeat(`[\w ]{1000}`, 10), `[\w ]{1,1000}Z`} {
		require.Less(t, len(p), MaxRulePatternLength)
		err := parse(p)
		require.Error(t, err, p)
		assert.Contains(t, err.Error(), "tenants.acme.redaction.rules.order_id.pattern: pattern compiles to", p)
	}
	for _, p := range []string{
		`ORD-[0-9]{10}`,
		`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`,
		`\b[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}\b`,
		`(?i)\b(?:alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|oscar|papa|quebec|romeo|sierra|tango)-[0-9]{4,8}\b`,
	} {
		assert.NoError(t, parse(p), p)
	}
}
