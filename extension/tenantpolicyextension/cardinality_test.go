package tenantpolicyextension

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/selfmetrics"
)

// bigPolicy declares n tenants.
func bigPolicy(n int) string {
	var b strings.Builder
	b.WriteString("tenants:\n")
	for i := range n {
		fmt.Fprintf(&b, "  t%05d: {}\n", i)
	}
	return b.String()
}

// A policy whose tenants need more series than the SDK's cap keeps is
// said at load, naming the variable and the size to set it to; one that
// fits, or a process without a cap, says nothing.
func TestTooSmallSeriesCapIsWarned(t *testing.T) {
	for _, c := range []struct {
		env     string
		tenants int
		warn    string
	}{
		{"", 81, "set OTEL_GO_X_CARDINALITY_LIMIT in the collector's environment to at least 2025"},
		{"", 80, ""},
		{"62500", 2500, ""},
		{"62499", 2500, "at least 62500"},
		{"0", 10000, ""},
	} {
		t.Run(fmt.Sprintf("%q,%d", c.env, c.tenants), func(t *testing.T) {
			t.Setenv(selfmetrics.CardinalityLimitEnv, c.env)
			h := start(t, bigPolicy(c.tenants), nil)
			warned := h.logs.FilterMessageSnippet("Per-tenant self-metrics will lose tenants").All()
			if c.warn == "" {
				assert.Empty(t, warned)
				return
			}
			require.Len(t, warned, 1)
			assert.Contains(t, warned[0].Message, c.warn)
			assert.Equal(t, int64(c.tenants), warned[0].ContextMap()["tenants"])
		})
	}
}
