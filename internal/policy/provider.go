package policy

import (
	"fmt"
	"reflect"

	"go.opentelemetry.io/collector/component"
)

// Provider serves the policy in force. The tenantpolicy extension is the one
// in the collector; tests and tenancyctl use a Static one.
type Provider interface {
	// Policy returns the policy in force; never nil once the provider started.
	Policy() *Policy
}

// Authenticator is a Provider that authenticates by its policy alone:
// while Policy returns the same policy, it gives the same answer to the
// same credentials. The gateway's gRPC tap relies on it to authenticate a
// call once, not again when its message comes; an authenticator that also
// decides by anything else (a clock, an address list, a token's single
// use) must not declare it.
//
// AuthenticatesByPolicyAlone returns the authenticator itself, and only
// an authenticator whose answer is itself is taken at its word
// (ByPolicyAlone): a type that embeds one inherits the method, but its
// answer is the embedded authenticator, so a wrapper that adds checks of
// its own is asked again unless it declares so itself.
type Authenticator interface {
	Provider
	AuthenticatesByPolicyAlone() Authenticator
}

// ByPolicyAlone returns c as an Authenticator if it declares, itself, that
// it authenticates by its policy alone.
func ByPolicyAlone(c any) (Authenticator, bool) {
	a, ok := c.(Authenticator)
	if !ok {
		return nil, false
	}
	// Compared as pointers of one type: comparing interface values could
	// panic on a type that cannot be compared (an authenticator is a
	// pointer, as components are). A nil one serves no policy.
	self, me := reflect.ValueOf(declared(a)), reflect.ValueOf(a)
	if !self.IsValid() || self.Type() != me.Type() || me.Kind() != reflect.Pointer || me.IsNil() || self.Pointer() != me.Pointer() {
		return nil, false
	}
	return a, true
}

// declared is a's answer, nil if asking panics: a wrapper that embeds an
// Authenticator it left nil inherits the method, and the gateway asks in
// its Start.
func declared(a Authenticator) (self Authenticator) {
	defer func() {
		if recover() != nil {
			self = nil
		}
	}()
	return a.AuthenticatesByPolicyAlone()
}

// Static is a Provider of one fixed policy.
type Static struct{ P *Policy }

// Policy implements Provider.
func (s Static) Policy() *Policy { return s.P }

// FromHost finds the policy provider extension id among the host's
// extensions, with an error a user can act on when it is missing.
func FromHost(host component.Host, id component.ID) (Provider, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("policy: extension %q is not configured; add it under extensions: and service.extensions", id)
	}
	p, ok := ext.(Provider)
	if !ok {
		return nil, fmt.Errorf("policy: extension %q does not serve a tenant policy (want a tenantpolicy extension)", id)
	}
	return p, nil
}
