package tenantredactprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/processor/tenantredactprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: &Config{Policy: component.MustNewID("tenantpolicy")}},
		{id: component.NewIDWithName(metadata.Type, "keys"), want: &Config{
			Policy:        component.MustNewIDWithName("tenantpolicy", "edge"),
			HashKeys:      map[string]configopaque.String{"k1": "0123456789abcdef", "k2": "fedcba9876543210"},
			ActiveHashKey: "k2"}},
		{id: component.NewIDWithName(metadata.Type, "shortkey"),
			wantErr: "hash_keys.k1: must be at least 16 bytes (set it from the environment, e.g. ${env:TENANCY_HASH_KEY_k1})"},
		{id: component.NewIDWithName(metadata.Type, "noactive"),
			wantErr: `active_hash_key: "k9" is not a key of hash_keys`},
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

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, componenttest.CheckConfigStruct(cfg))
	require.NoError(t, confmap.Validate(cfg))
}
