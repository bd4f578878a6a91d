// Package policytest serves tenant policies to components under test, as
// the tenantpolicy extension does inside a collector: to tests, and to
// tenancyctl's policy dry run, which runs the components themselves.
package policytest

import (
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// ExtensionID is the id the components' default config names.
var ExtensionID = component.MustNewID("tenantpolicy")

// Host is a component.Host with the given extensions.
type Host struct {
	component.Host
	Exts map[component.ID]component.Component
}

// GetExtensions implements component.Host.
func (h Host) GetExtensions() map[component.ID]component.Component { return h.Exts }

// NewHost returns a host whose tenantpolicy extension serves prov, beside
// any extra extensions (a storage extension, say).
func NewHost(prov policy.Provider, extra map[component.ID]component.Component) Host {
	exts := map[component.ID]component.Component{ExtensionID: Extension(prov)}
	for id, c := range extra {
		exts[id] = c
	}
	return Host{Host: componenttest.NewNopHost(), Exts: exts}
}

// Extension wraps a policy provider as an extension component.
func Extension(prov policy.Provider) component.Component {
	return struct {
		component.StartFunc
		component.ShutdownFunc
		policy.Provider
	}{Provider: prov}
}

// Swappable is a policy provider whose policy a test can replace, as a
// reload does.
type Swappable struct{ p atomic.Pointer[policy.Policy] }

// NewSwappable returns a Swappable serving p.
func NewSwappable(p *policy.Policy) *Swappable {
	s := &Swappable{}
	s.p.Store(p)
	return s
}

// Policy implements policy.Provider.
func (s *Swappable) Policy() *policy.Policy { return s.p.Load() }

// Store puts p in force.
func (s *Swappable) Store(p *policy.Policy) { s.p.Store(p) }
