package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile review h31r of d1b830c (ByPolicyAlone).

// h31rSelf declares itself, as the tenantpolicy extension does.
type h31rSelf struct{ p *Policy }

func (s *h31rSelf) Policy() *Policy                           { return s.p }
func (s *h31rSelf) AuthenticatesByPolicyAlone() Authenticator { return s }

// h31rEmbedIface embeds an Authenticator interface (inherits its answer).
type h31rEmbedIface struct{ Authenticator }

// h31rEmbedPtr embeds a *h31rSelf (inherits its answer, which is &w.inner).
type h31rEmbedPtr struct{ *h31rSelf }

// h31rEmbedValue embeds h31rSelf by value: the promoted method's receiver
// is &w.h31rSelf, the address of w itself (first field), of another type.
type h31rEmbedValue struct {
	h31rSelf
	extra int
}

// h31rDelegates overrides the method and passes the inner one's answer on.
type h31rDelegates struct{ inner Authenticator }

func (d *h31rDelegates) Policy() *Policy { return d.inner.Policy() }
func (d *h31rDelegates) AuthenticatesByPolicyAlone() Authenticator {
	return d.inner.AuthenticatesByPolicyAlone()
}

// h31rValue declares itself with a value receiver (not a pointer).
type h31rValue struct{ p *Policy }

func (v h31rValue) Policy() *Policy                           { return v.p }
func (v h31rValue) AuthenticatesByPolicyAlone() Authenticator { return v }

// h31rMap is a map kind (reflect.Pointer works on it) declaring itself.
type h31rMap map[string]int

func (m h31rMap) Policy() *Policy                           { return nil }
func (m h31rMap) AuthenticatesByPolicyAlone() Authenticator { return m }

// h31rFunc is a func kind declaring itself (uncomparable as interface).
type h31rFunc func()

func (f h31rFunc) Policy() *Policy                           { return nil }
func (f h31rFunc) AuthenticatesByPolicyAlone() Authenticator { return f }

// h31rNilAnswer answers nil.
type h31rNilAnswer struct{}

func (*h31rNilAnswer) Policy() *Policy                           { return nil }
func (*h31rNilAnswer) AuthenticatesByPolicyAlone() Authenticator { return nil }

// h31rOther answers another instance of its own type.
type h31rOther struct{ other *h31rOther }

func (*h31rOther) Policy() *Policy                             { return nil }
func (o *h31rOther) AuthenticatesByPolicyAlone() Authenticator { return o.other }

// TestH31rByPolicyAloneCases: what ByPolicyAlone trusts, and that it does
// not panic on the shapes a careless integrator may hand it.
func TestH31rByPolicyAloneCases(t *testing.T) {
	self := &h31rSelf{}
	o2 := &h31rOther{}
	cases := []struct {
		name string
		c    any
		want bool
	}{
		{"nil", nil, false},
		{"not an authenticator", 42, false},
		{"self", self, true},
		{"embeds interface", &h31rEmbedIface{Authenticator: self}, false},
		{"embeds interface, value", h31rEmbedIface{Authenticator: self}, false},
		{"embeds pointer", &h31rEmbedPtr{self}, false},
		{"embeds value (same address, other type)", &h31rEmbedValue{}, false},
		{"delegates", &h31rDelegates{inner: self}, false},
		{"value receiver", h31rValue{}, false},
		{"map kind", h31rMap{}, false},
		{"nil map kind", h31rMap(nil), false},
		{"func kind", h31rFunc(func() {}), false},
		{"answers nil", &h31rNilAnswer{}, false},
		{"answers a sibling", &h31rOther{other: o2}, false},
		{"chain of one wrapper type", &h31rEmbedIface{Authenticator: &h31rEmbedIface{Authenticator: self}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got bool
			require.NotPanics(t, func() { _, got = ByPolicyAlone(tc.c) })
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestH31rTypedNilIsNotTrusted: a nil pointer of a type that declares
// itself was trusted (Pointer() 0 == 0), as the old type assertion did,
// and the gateway would then call Policy on it; it serves no policy.
func TestH31rTypedNilIsNotTrusted(t *testing.T) {
	_, ok := ByPolicyAlone((*h31rSelf)(nil))
	assert.False(t, ok)
}

// TestH31rEmbeddedNilAuthenticatorDoesNotPanic: a wrapper whose embedded
// Authenticator is nil (optional or not yet set) makes ByPolicyAlone call
// the promoted method on a nil interface. The type assertion before
// d1b830c did not call anything; ByPolicyAlone now panics, and the panic
// is in the gateway receiver's Start (grpcServerSetup).
func TestH31rEmbeddedNilAuthenticatorDoesNotPanic(t *testing.T) {
	var ok bool
	assert.NotPanics(t, func() { _, ok = ByPolicyAlone(&h31rEmbedIface{}) })
	assert.False(t, ok)
}
