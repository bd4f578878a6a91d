// Package identity carries a verified tenant from an authenticator to the
// components behind it, through the collector's client.Info auth data, and
// owns the resource attributes of the tenant contract (docs/design.md): it
// is the one reader of a resource's tenant.
package identity

import (
	"context"
	"crypto/sha256"

	"go.opentelemetry.io/collector/client"
)

// Resource attribute keys of the tenant contract. Only the pipeline writes
// them: the tenant processor removes every client-written tenant.* key at
// every level before anything reads one.
const (
	AttrTenantID         = "tenant.id"
	AttrFingerprint      = "tenant.fingerprint"
	AttrQuarantineReason = "tenant.quarantine.reason"
	AttrClaimed          = "tenant.claimed"
	// AttrAuthenticated is the verified tenant of a quarantined resource's
	// sender, so a spoof is attributable.
	AttrAuthenticated = "tenant.authenticated"
	// AttrCredential is a short id of the credential that proved it: never
	// the key itself.
	AttrCredential = "tenant.credential"
	// AttrSource is the receiver and client address the resource came from
	// (not AuthSource, which names how the tenant was proved).
	AttrSource = "tenant.source"
	// AttrPrefix is the namespace Tenancy owns: what a client wrote under it
	// is a claim, never a fact.
	AttrPrefix = "tenant."
)

// Attributes the redactor writes (its audit trail). A changed log record,
// span or data point carries AttrRedactionClasses, the classes removed
// from it; a resource with any change, in its own attributes, its scopes'
// or its records', carries all four: the values changed in all of it, how
// many of its records changed, the classes of all of it, and the policy
// version they were changed under (one pass applies one policy to a whole
// resource).
const (
	AttrRedactionCount         = "tenant.redaction.count"
	AttrRedactionRecords       = "tenant.redaction.records"
	AttrRedactionClasses       = "tenant.redaction.classes"
	AttrRedactionPolicyVersion = "tenant.redaction.policy_version"
)

// Attributes the retention processor writes.
const (
	AttrRetention          = "tenant.retention"
	AttrRetentionExpired   = "tenant.retention.expired"
	AttrRetentionOriginal  = "tenant.retention.original_time" // a timestamp past max_future_skew
	AttrResidency          = "tenant.residency"
	AttrResidencyViolation = "tenant.residency.violation"
)

// AttrAnomalyTenant names, on each _governance record (or resource) the
// anomaly connector writes, the tenant the report is about. It is not under
// tenant.: the record belongs to _governance.
const AttrAnomalyTenant = "anomaly.tenant.id"

// PipelineKey reports whether k is an attribute the pipeline itself writes.
// These are never redacted; any other tenant.* key is a client's and is
// removed by the tenant processor.
func PipelineKey(k string) bool {
	switch k {
	case AttrTenantID, AttrFingerprint, AttrQuarantineReason, AttrClaimed,
		AttrAuthenticated, AttrCredential, AttrSource,
		AttrRedactionCount, AttrRedactionRecords, AttrRedactionClasses, AttrRedactionPolicyVersion,
		AttrRetention, AttrRetentionExpired, AttrRetentionOriginal, AttrResidency, AttrResidencyViolation,
		AttrLineage:
		return true
	}
	return false
}

// Auth data attribute names set by the tenantpolicy authenticator. The
// tenant is under the resource attribute's name, so a collector config that
// reads auth.tenant.id (headers_setter, routing) names what resources carry;
// the credential is AttrCredential, the same id under the same name.
const (
	AuthTenant = AttrTenantID
	// AuthSource is how the tenant was proved (a Source); AttrSource, the
	// same name on a resource, is where the data came from: not one idea.
	AuthSource   = "tenant.source"
	AuthReceiver = "tenant.receiver"
)

// Source says how a tenant was established.
type Source string

// Sources of an identity, strongest first.
const (
	SourceAPIKey        Source = "api_key"
	SourceClientCert    Source = "client_cert"
	SourceTrustedHeader Source = "trusted_header"
	// SourceKafkaTopic: the tenant whose Kafka topic the data was read
	// from (the tenantkafka receiver; Credential names the topic). It is
	// the edge's word, so the tenant processor believes it only from the
	// receivers its trusted_receivers names.
	SourceKafkaTopic Source = "kafka_topic"
)

// Verified reports whether the source proves the caller's identity itself
// (a key or certificate), rather than relaying a trusted proxy's word.
func (s Source) Verified() bool { return s == SourceAPIKey || s == SourceClientCert }

// AuthData is the client.AuthData the tenantpolicy authenticator sets.
type AuthData struct {
	Tenant string
	Source Source
	// Credential is KeyID or CertID of what proved the tenant ("" for a
	// trusted header).
	Credential string
	// Receiver names the component that authenticated the request, when it
	// knows itself (the gateway; the authenticator alone does not).
	Receiver string
}

var authNames = []string{AuthTenant, AuthSource, AttrCredential, AuthReceiver}

// GetAttribute implements client.AuthData.
func (a AuthData) GetAttribute(name string) any {
	switch name {
	case AuthTenant:
		return a.Tenant
	case AuthSource:
		return string(a.Source)
	case AttrCredential:
		return a.Credential
	case AuthReceiver:
		return a.Receiver
	}
	return nil
}

// GetAttributeNames implements client.AuthData.
func (a AuthData) GetAttributeNames() []string { return authNames }

// KeyID is the short, non-secret id of an API key: the first 12 hex digits
// of its SHA-256, which an operator matches against the policy's key hashes.
func KeyID(key string) string {
	return KeyIDOfDigest(sha256.Sum256([]byte(key)))
}

// CertID is the short id of a client certificate from its SHA-256
// fingerprint in hex.
func CertID(fingerprintHex string) string {
	if len(fingerprintHex) > 12 {
		fingerprintHex = fingerprintHex[:12]
	}
	return "cert:" + fingerprintHex
}

// WithAuth returns ctx with a in its client.Info auth data, keeping the
// address and metadata already there.
func WithAuth(ctx context.Context, a AuthData) context.Context {
	info := client.FromContext(ctx)
	info.Auth = a
	return client.NewContext(ctx, info)
}

// WithTenant is WithAuth for a tenant and source alone.
func WithTenant(ctx context.Context, tenant string, src Source) context.Context {
	return WithAuth(ctx, AuthData{Tenant: tenant, Source: src})
}

// FromContext returns the tenant an authenticator put in ctx, if any. It
// reads the attributes rather than the concrete type, so an identity set by
// another authenticator with the same attribute names is honoured too.
func FromContext(ctx context.Context) (tenant string, src Source, ok bool) {
	a, ok := AuthFromContext(ctx)
	return a.Tenant, a.Source, ok
}

// AuthFromContext is FromContext with the credential and receiver too.
func AuthFromContext(ctx context.Context) (AuthData, bool) {
	auth := client.FromContext(ctx).Auth
	if auth == nil {
		return AuthData{}, false
	}
	var a AuthData
	a.Tenant, _ = auth.GetAttribute(AuthTenant).(string)
	s, _ := auth.GetAttribute(AuthSource).(string)
	a.Source = Source(s)
	a.Credential, _ = auth.GetAttribute(AttrCredential).(string)
	a.Receiver, _ = auth.GetAttribute(AuthReceiver).(string)
	if a.Tenant == "" {
		return AuthData{}, false
	}
	return a, true
}
