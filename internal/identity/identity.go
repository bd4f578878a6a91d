// Package identity carries a verified tenant from an authenticator to the
// components behind it, through the collector's client.Info auth data, and
// names the resource attributes of the tenant contract (DESIGN.md).
package identity

import (
	"context"

	"go.opentelemetry.io/collector/client"
)

// Resource attribute keys of the tenant contract.
const (
	AttrTenantID         = "tenant.id"
	AttrFingerprint      = "tenant.fingerprint"
	AttrQuarantineReason = "tenant.quarantine.reason"
	AttrClaimed          = "tenant.claimed"
	// AttrPrefix is the namespace Tenancy owns on resources: what a client
	// wrote under it is a claim, never a fact.
	AttrPrefix = "tenant."
)

// Auth data attribute names set by the tenantpolicy authenticator.
const (
	AuthTenant = "tenant.id"
	AuthSource = "tenant.source"
)

// Source says how a tenant was established.
type Source string

// Sources of an identity, strongest first.
const (
	SourceAPIKey        Source = "api_key"
	SourceClientCert    Source = "client_cert"
	SourceTrustedHeader Source = "trusted_header"
)

// Verified reports whether the source proves the caller's identity itself
// (a key or certificate), rather than relaying a trusted proxy's word.
func (s Source) Verified() bool { return s == SourceAPIKey || s == SourceClientCert }

// AuthData is the client.AuthData the tenantpolicy authenticator sets.
type AuthData struct {
	Tenant string
	Source Source
}

var authNames = []string{AuthTenant, AuthSource}

// GetAttribute implements client.AuthData.
func (a AuthData) GetAttribute(name string) any {
	switch name {
	case AuthTenant:
		return a.Tenant
	case AuthSource:
		return string(a.Source)
	}
	return nil
}

// GetAttributeNames implements client.AuthData.
func (a AuthData) GetAttributeNames() []string { return authNames }

// WithTenant returns ctx with the tenant in its client.Info auth data,
// keeping the address and metadata already there.
func WithTenant(ctx context.Context, tenant string, src Source) context.Context {
	info := client.FromContext(ctx)
	info.Auth = AuthData{Tenant: tenant, Source: src}
	return client.NewContext(ctx, info)
}

// FromContext returns the tenant an authenticator put in ctx, if any. It
// reads the attributes rather than the concrete type, so an identity set by
// another authenticator with the same attribute names is honoured too.
func FromContext(ctx context.Context) (tenant string, src Source, ok bool) {
	auth := client.FromContext(ctx).Auth
	if auth == nil {
		return "", "", false
	}
	t, _ := auth.GetAttribute(AuthTenant).(string)
	s, _ := auth.GetAttribute(AuthSource).(string)
	if t == "" {
		return "", "", false
	}
	return t, Source(s), true
}
