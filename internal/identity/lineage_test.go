package identity

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLineageRoundTrip(t *testing.T) {
	l := Lineage{ID: "0190a1b2c3d47000abcdef0123456789", Accepted: 42, Client: `10.0.0.1:5"`, Tenant: "acme", Credential: "key:0123456789ab"}
	s := l.Encode()
	got, ok := ParseLineage(s)
	assert.True(t, ok)
	assert.Equal(t, l, got)
	assert.Equal(t, l.ID, LineageIDOf(s))
	// An id the fast path cannot read is still found.
	assert.Equal(t, `a"b`, LineageIDOf(Lineage{ID: `a"b`}.Encode()))
	assert.Equal(t, "x", LineageIDOf(`{"accepted_unix_nano":1,"id":"x"}`))
	for _, bad := range []string{"", "{}", `{"id":""}`, "not json", `{"id":7}`} {
		_, ok := ParseLineage(bad)
		assert.False(t, ok, bad)
		assert.Empty(t, LineageIDOf(bad), bad)
	}
}
