package policy

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every edge limit is bounded by default; the defaults block cannot lift
// one for all tenants, and a tenant can raise its own (or lift it with 0).
func TestEdgeLimitsAreBoundedByDefault(t *testing.T) {
	p, err := Parse("t.yaml", []byte("tenants:\n  acme: {}\n  big:\n    limits: {max_decompressed_bytes: 64MiB, records_per_second: 0}\n"))
	require.NoError(t, err)
	acme, _ := p.Tenant("acme")
	for _, l := range []Limits{p.Defaults.Limits, acme.Limits} {
		v := reflect.ValueOf(l)
		for i := range v.NumField() {
			assert.Positive(t, v.Field(i).Int(), "%s is unlimited by default", v.Type().Field(i).Name)
		}
	}
	assert.Equal(t, int64(4<<20), acme.Limits.MaxDecompressedBytes)
	big, _ := p.Tenant("big")
	assert.Equal(t, int64(64<<20), big.Limits.MaxDecompressedBytes)
	assert.Zero(t, big.Limits.RecordsPerSecond, "a tenant may lift its own limit")
	assert.Equal(t, acme.Limits.BytesPerSecond, big.Limits.BytesPerSecond)

	_, err = Parse("t.yaml", []byte("defaults:\n  limits: {max_request_bytes: 0}\ntenants:\n  acme: {}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "t.yaml:2: defaults.limits.max_request_bytes: 0 (unlimited) would lift the limit for every tenant")
}
