package policy

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestContinuity(t *testing.T) {
	p, err := Parse("t.yaml", []byte(`
defaults:
  continuity: {rpo: 1h, rto: 15m}
tenants:
  acme:
    continuity: {rto: 5m}
  globex: {}
`))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	globex, _ := p.Tenant("globex")
	assert.Equal(t, Continuity{RPO: time.Hour, RTO: 5 * time.Minute}, acme.Continuity, "its own rto over the default rpo")
	assert.Equal(t, Continuity{RPO: time.Hour, RTO: 15 * time.Minute}, globex.Continuity)

	_, err = Parse("t.yaml", []byte("tenants:\n  acme:\n    continuity: {rpo: soon, rtt: 1m, rto: 0s}\n"))
	require.Error(t, err)
	for _, want := range []string{"continuity.rpo: want a positive duration", "continuity.rtt: unknown key", "continuity.rto: want a positive duration"} {
		assert.Contains(t, err.Error(), want)
	}
}
