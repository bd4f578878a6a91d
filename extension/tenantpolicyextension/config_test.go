package tenantpolicyextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{
			id: component.NewID(metadata.Type),
			want: &Config{Path: "./testdata/tenants.yaml", ReloadInterval: time.Second,
				TrustedHeader: TrustedHeaderConfig{Name: "X-Scope-OrgID"},
				Access:        AccessConfig{LearningPeriod: 24 * time.Hour, AddressesPerTenant: 16}},
		},
		{
			id: component.NewIDWithName(metadata.Type, "trusted"),
			want: &Config{Path: "./testdata/tenants.yaml", ReloadInterval: 250 * time.Millisecond,
				TrustedHeader: TrustedHeaderConfig{Enabled: true, Name: "X-Tenant"},
				Access:        AccessConfig{LearningPeriod: 10 * time.Minute, AddressesPerTenant: 4}},
		},
		{id: component.NewIDWithName(metadata.Type, "nopath"), wantErr: "path: must name the policy file (tenants.yaml)"},
		{id: component.NewIDWithName(metadata.Type, "fastreload"), wantErr: "reload_interval: must be at least 100ms, got 1ms"},
		{id: component.NewIDWithName(metadata.Type, "noaddresses"), wantErr: "access.addresses_per_tenant: 0 is outside [1, 256]"},
		{id: component.NewIDWithName(metadata.Type, "noheadername"), wantErr: "trusted_header.name: must name the header when trusted_header is enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			if tt.wantErr != "" {
				assert.EqualError(t, confmap.Validate(cfg), tt.wantErr)
				return
			}
			require.NoError(t, confmap.Validate(cfg))
			assert.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}
