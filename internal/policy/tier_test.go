package policy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTier(t *testing.T) {
	p, err := Parse("p.yaml", []byte(`defaults:
  tier: standard
tenants:
  acme: {tier: gold}
  globex: {}
`))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	globex, _ := p.Tenant("globex")
	assert.Equal(t, "gold", acme.Tier)
	assert.Equal(t, "standard", globex.Tier, "the defaults block's tier")

	p, err = Parse("p.yaml", []byte("tenants:\n  acme: {}\n"))
	require.NoError(t, err)
	acme, _ = p.Tenant("acme")
	assert.Empty(t, acme.Tier, "no tier unless the policy names one")
}

// A tier is a label value of every tenant's info series: free text, or
// one long enough to carry data, is refused.
func TestTierErrors(t *testing.T) {
	for _, bad := range []string{`"Gold"`, `"gold tier"`, `""`, strings.Repeat("a", 33), `[gold]`} {
		_, err := Parse("p.yaml", []byte("tenants:\n  acme: {tier: "+bad+"}\n"))
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "tenants.acme.tier", bad)
	}
}
