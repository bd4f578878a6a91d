package tenantpolicyextension

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/selfmetrics"
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
			return ctx, e.refuse("unknown_key", errUnknownKey)
		}
		// The key's short id, never the key, lets a quarantined spoof name
		// the credential that sent it.
		cred := identity.KeyID(key)
		if header != "" && header != t.ID {
			// The key proved the sender: the attempt is its spoof, not a
			// failure of the tenant it named (which the sender could
			// otherwise make alert at will).
			e.access.Refused(p, "", t.ID, cred)
			return ctx, e.refuse("header_mismatch", errHeaderMismatch)
		}
		e.accept(t.ID, identity.SourceAPIKey)
		e.access.Accepted(p, t.ID, cred, client.FromContext(ctx).Addr)
		return identity.WithAuth(ctx, identity.AuthData{Tenant: t.ID, Source: identity.SourceAPIKey, Credential: cred}), nil
	}
	if header != "" {
		if policy.ValidateTenantID(header) != nil {
			return ctx, e.refuse("malformed_header", errMalformedHeader)
		}
		// An unknown or suspended tenant is let through here and quarantined
		// by the tenant processor with its reason, so nothing vanishes.
		e.accept("", identity.SourceTrustedHeader)
		return identity.WithTenant(ctx, header, identity.SourceTrustedHeader), nil
	}
	e.access.Refused(p, e.claimed(sources), "", "")
	return ctx, e.refuse("missing_credentials", errMissingCredentials)
}

// claimed is the tenant the request's header names, believed or not.
func (e *policyExtension) claimed(sources map[string][]string) string {
	return firstValue(sources, e.cfg.TrustedHeader.Name)
}

func (e *policyExtension) accept(tenant string, src identity.Source) {
	e.auth.accepted.Get(acceptedKey{tenant: tenant, source: src}).Add(1)
}

func (e *policyExtension) refuse(reason string, err error) error {
	e.auth.refused.Get(reason).Add(1)
	return err
}

// authCounts are the authenticator's self-metrics: an atomic add per
// request, read by the observable counters' callbacks at collection time.
// A synchronous counter built an attribute set on every request.
type authCounts struct {
	// accepted: tenant is a policy tenant, or "" for the trusted header
	// (unlabelled), so the series are bounded by the policy.
	accepted selfmetrics.Series[acceptedKey, atomic.Int64]
	refused  selfmetrics.Series[string, atomic.Int64] // by reason, a fixed set
}

type acceptedKey struct {
	tenant string
	source identity.Source
}

func (k acceptedKey) attrs() []attribute.KeyValue {
	if k.tenant == "" {
		return []attribute.KeyValue{attribute.String("source", string(k.source))}
	}
	return []attribute.KeyValue{attribute.String("source", string(k.source)), attribute.String("tenant", k.tenant)}
}

// register reads the counts from the observable counters of metadata.yaml.
func (c *authCounts) register(tb *metadata.TelemetryBuilder) error {
	return errors.Join(
		tb.RegisterTenantpolicyAuthAcceptedCallback(func(_ context.Context, o metric.Int64Observer) error {
			c.accepted.Range(func(k acceptedKey, n *atomic.Int64) { selfmetrics.ObserveNonZero(o, n, k.attrs()...) })
			return nil
		}),
		tb.RegisterTenantpolicyAuthRefusedCallback(func(_ context.Context, o metric.Int64Observer) error {
			c.refused.Range(func(reason string, n *atomic.Int64) {
				selfmetrics.ObserveNonZero(o, n, attribute.String("reason", reason))
			})
			return nil
		}),
	)
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
