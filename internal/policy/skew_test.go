package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxFutureSkew(t *testing.T) {
	p, err := Parse("p.yaml", []byte("tenants:\n  acme: {}\n"))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	assert.Equal(t, time.Hour, acme.MaxFutureSkew, "built-in default")
	assert.Equal(t, time.Hour, p.Defaults.MaxFutureSkew)

	p, err = Parse("p.yaml", []byte(`
defaults: {max_future_skew: 10m}
tenants:
  acme: {}
  globex: {max_future_skew: 0}
  initech: {max_future_skew: 2d}
`))
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, p.Defaults.MaxFutureSkew)
	for id, want := range map[string]time.Duration{"acme": 10 * time.Minute, "globex": 0, "initech": 48 * time.Hour} {
		tn, _ := p.Tenant(id)
		assert.Equal(t, want, tn.MaxFutureSkew, id)
	}
}

func TestMaxFutureSkewInvalid(t *testing.T) {
	_, err := Parse("p.yaml", []byte(`
defaults:
  max_future_skew: -1h
tenants:
  acme:
    max_future_skew: soon
  globex:
    max_future_skew: [1h]
  initech: {max_future_skew: 0s}
`))
	require.Error(t, err)
	for _, want := range []string{
		`p.yaml:3: defaults.max_future_skew: want a duration of 0 or more such as 1h, 30m or 0, found "-1h"`,
		`p.yaml:6: tenants.acme.max_future_skew: want a duration of 0 or more such as 1h, 30m or 0, found "soon"`,
		`p.yaml:8: tenants.globex.max_future_skew: want a single value, found a list`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "initech", "0s is zero")
}

func TestDiffNamesMaxFutureSkew(t *testing.T) {
	a, err := Parse("a", []byte("tenants: {acme: {}}\n"))
	require.NoError(t, err)
	b, err := Parse("b", []byte("tenants: {acme: {max_future_skew: 5m}}\n"))
	require.NoError(t, err)
	assert.Equal(t, []Change{{Tenant: "acme", Kind: "changed", Keys: []string{"max_future_skew"}}}, Diff(a, b))
}
