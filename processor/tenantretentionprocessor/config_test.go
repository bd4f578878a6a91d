package tenantretentionprocessor

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: &Config{Policy: component.MustNewID("tenantpolicy"), Expired: ActionDrop, OutOfRegion: ActionDrop}},
		{id: component.NewIDWithName(metadata.Type, "eu"), want: &Config{
			Policy: component.MustNewIDWithName("tenantpolicy", "edge"), Region: "eu-west", Expired: ActionFlag, OutOfRegion: ActionFlag}},
		{id: component.NewIDWithName(metadata.Type, "badregion"),
			wantErr: `region: "EU West" is not a residency name (lower-case letters, digits and '-', at most 63)`},
		{id: component.NewIDWithName(metadata.Type, "badaction"),
			wantErr: `expired: must be "drop" or "flag", found "delete"`},
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
