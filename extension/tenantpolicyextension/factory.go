// Package tenantpolicyextension is the policy decision point of Tenancy: it
// loads tenants.yaml, hot-reloads it, and authenticates callers by their
// per-tenant API key as a collector server authenticator.
package tenantpolicyextension

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension/internal/metadata"
)

// DefaultTrustedHeader is the header Loki, Mimir, Cortex and Tempo read.
const DefaultTrustedHeader = "X-Scope-OrgID"

// NewFactory returns the factory of the tenantpolicy extension.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	return &Config{
		ReloadInterval: time.Second,
		TrustedHeader:  TrustedHeaderConfig{Name: DefaultTrustedHeader},
		Access:         AccessConfig{LearningPeriod: 24 * time.Hour, AddressesPerTenant: 16},
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newPolicyExtension(cfg.(*Config), set)
}
