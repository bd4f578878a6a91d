package tenantprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/processor/tenantprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: &Config{
			Policy: component.MustNewID("tenantpolicy"), FingerprintSecret: "0123456789abcdef"}},
		{id: component.NewIDWithName(metadata.Type, "claims"), want: &Config{
			Policy: component.MustNewIDWithName("tenantpolicy", "edge"), FingerprintSecret: "0123456789abcdef",
			AllowUnverifiedClaims: true, TrustedHeader: "X-Scope-OrgID"}},
		{id: component.NewIDWithName(metadata.Type, "shortsecret"),
			wantErr: "fingerprint_secret: must be at least 16 bytes (set it from the environment, e.g. ${env:TENANCY_FINGERPRINT_SECRET})"},
		{id: component.NewIDWithName(metadata.Type, "badheader"),
			wantErr: `trusted_header: "X Scope" is not a valid header name`},
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

func TestDefaultConfigNeedsSecret(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	assert.ErrorContains(t, confmap.Validate(cfg), "fingerprint_secret")
}
