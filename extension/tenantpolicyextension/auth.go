package tenantpolicyextension

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Errors of Authenticate. They never quote the credential.
var (
	errMissingCredentials = errors.New("tenantpolicy: no API key (send Authorization: Bearer <key> or X-API-Key: <key>)")
	errUnknownKey         = errors.New("tenantpolicy: API key not recognised")
	errHeaderMismatch     = errors.New("tenantpolicy: the tenant header names another tenant than the API key")
	errMalformedHeader    = errors.New("tenantpolicy: the tenant header is not a valid tenant id")
)

// Authenticate implements extensionauth.Server. A valid key puts its
// tenant in the context's auth data; in trusted header mode, a request
// without a key may name its tenant in the header.
func (e *policyExtension) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	p := e.Policy()
	if p == nil {
		return ctx, errors.New("tenantpolicy: no policy loaded")
	}
	key := apiKey(sources)
	// Only trusted header mode believes the header; in every mode a
	// refused request's header is the tenant it claimed, for the access
	// counts (claimed reads it then, not on every accepted request).
	header := ""
	if e.cfg.TrustedHeader.Enabled {
		header = e.claimed(sources)
	}
	if key != "" {
		t, ok := p.TenantForKey(key)
		if !ok {
			e.access.Refused(p, e.claimed(sources), "", "")
			return ctx, e.refuse(ctx, "unknown_key", errUnknownKey)
		}
		// The key's short id, never the key, lets a quarantined spoof name
		// the credential that sent it.
		cred := identity.KeyID(key)
		if header != "" && header != t.ID {
			// The key proved the sender: the attempt is its spoof, not a
			// failure of the tenant it named (which the sender could
			// otherwise make alert at will).
			e.access.Refused(p, "", t.ID, cred)
			return ctx, e.refuse(ctx, "header_mismatch", errHeaderMismatch)
		}
		e.accept(ctx, t.ID, identity.SourceAPIKey)
		e.access.Accepted(p, t.ID, cred, client.FromContext(ctx).Addr)
		return identity.WithAuth(ctx, identity.AuthData{Tenant: t.ID, Source: identity.SourceAPIKey, Credential: cred}), nil
	}
	if header != "" {
		if policy.ValidateTenantID(header) != nil {
			return ctx, e.refuse(ctx, "malformed_header", errMalformedHeader)
		}
		// An unknown or suspended tenant is let through here and quarantined
		// by the tenant processor with its reason, so nothing vanishes.
		e.accept(ctx, "", identity.SourceTrustedHeader)
		return identity.WithTenant(ctx, header, identity.SourceTrustedHeader), nil
	}
	e.access.Refused(p, e.claimed(sources), "", "")
	return ctx, e.refuse(ctx, "missing_credentials", errMissingCredentials)
}

// claimed is the tenant the request's header names, believed or not.
func (e *policyExtension) claimed(sources map[string][]string) string {
	return firstValue(sources, e.cfg.TrustedHeader.Name)
}

func (e *policyExtension) accept(ctx context.Context, tenant string, src identity.Source) {
	attrs := []attribute.KeyValue{attribute.String("source", string(src))}
	if tenant != "" {
		// Only policy tenants become label values, so the series are bounded.
		attrs = append(attrs, attribute.String("tenant", tenant))
	}
	e.tel.TenantpolicyAuthAccepted.Add(ctx, 1, metric.WithAttributes(attrs...))
}

func (e *policyExtension) refuse(ctx context.Context, reason string, err error) error {
	e.tel.TenantpolicyAuthRefused.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	return err
}

// apiKey reads the key from "Authorization: Bearer <key>" or "X-API-Key".
// Header names are matched case-insensitively: HTTP canonicalises them and
// gRPC lower-cases them.
func apiKey(sources map[string][]string) string {
	if v := firstValue(sources, "Authorization"); v != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(token)
		}
	}
	return strings.TrimSpace(firstValue(sources, "X-API-Key"))
}

func firstValue(sources map[string][]string, name string) string {
	if v := sources[name]; len(v) > 0 {
		return v[0]
	}
	if v := sources[strings.ToLower(name)]; len(v) > 0 {
		return v[0]
	}
	if v := sources[http.CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	for k, v := range sources {
		if len(v) > 0 && strings.EqualFold(k, name) {
			return v[0]
		}
	}
	return ""
}
