package tenantgatewayreceiver

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	full := createDefaultConfig().(*Config)
	full.NetAddr.Endpoint = "127.0.0.1:9411"
	full.Policy = component.MustNewIDWithName("tenantpolicy", "edge")
	full.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: component.MustNewIDWithName("tenantpolicy", "edge")}})
	full.IncludeMetadata = true
	full.MaxRequestBodySize = 1 << 20
	full.CompressionAlgorithms = []string{"", "gzip", "snappy"}
	withGRPC := createDefaultConfig().(*Config)
	withGRPC.NetAddr.Endpoint = "127.0.0.1:4318"
	grpcCfg := configgrpc.NewDefaultServerConfig()
	grpcCfg.NetAddr.Endpoint = "127.0.0.1:4317"
	grpcCfg.Auth = configoptional.Some(configauth.Config{AuthenticatorID: component.MustNewID("tenantpolicy")})
	withGRPC.GRPC = configoptional.Some(grpcCfg)
	inflight := createDefaultConfig().(*Config)
	inflight.MaxInFlightBytes = 256 << 20
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "full"), want: full},
		{id: component.NewIDWithName(metadata.Type, "grpc"), want: withGRPC},
		{id: component.NewIDWithName(metadata.Type, "inflight"), want: inflight},
		{id: component.NewIDWithName(metadata.Type, "badinflight"), wantErr: "max_in_flight_bytes: must not be negative (0 turns the bound off)"},
		{id: component.NewIDWithName(metadata.Type, "noendpoint"), wantErr: "endpoint: must be set (host:port)"},
		{id: component.NewIDWithName(metadata.Type, "badencoding"),
			wantErr: `compression_algorithms[1]: "brotli" is not one of ["" "gzip" "zstd" "zlib" "deflate" "snappy" "x-snappy-framed"]`},
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
