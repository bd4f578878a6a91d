package tenantanomalyconnector

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

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/anomaly"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	storageID := component.MustNewIDWithName("file_storage", "anomaly")
	tests := []struct {
		id      component.ID
		want    *Config
		wantErr string
	}{
		{id: component.NewID(metadata.Type), want: &Config{
			Policy: component.MustNewID("tenantpolicy"), FingerprintSecret: "0123456789abcdef",
			Interval: time.Minute, Threshold: 0.5, Probation: 150, Suppress: 50, CheckpointInterval: 5 * time.Minute,
			Access: AccessConfig{AuthFailureBurst: 10, AuthFailureFactor: 3, StoreReadBurst: 10, StoreReadFactor: 3,
				CredentialRequestBurst: 100, CredentialRequestFactor: 3}}},
		{id: component.NewIDWithName(metadata.Type, "full"), want: &Config{
			Policy: component.MustNewIDWithName("tenantpolicy", "edge"), FingerprintSecret: "0123456789abcdef",
			Interval: 30 * time.Second, Threshold: 0.7, Probation: 20, Suppress: 50, Storage: &storageID,
			CheckpointInterval: 0, Access: AccessConfig{AuthFailureBurst: 5, AuthFailureFactor: 2,
				StoreReadBurst: 4, StoreReadFactor: 5, CredentialRequestBurst: 50, CredentialRequestFactor: 4},
			Metrics: []string{"http.server.request.duration", "queue.size"}, MaxServices: 8}},
		{id: component.NewIDWithName(metadata.Type, "shortsecret"),
			wantErr: "fingerprint_secret: must be at least 16 bytes (use the tenant processor's, e.g. ${env:TENANCY_FINGERPRINT_SECRET})"},
		{id: component.NewIDWithName(metadata.Type, "badnumbers"),
			wantErr: "interval: 100ms is shorter than 1s\nthreshold: 1.5 is outside (0,1]\nprobation: -1 is negative\nsuppress: -2 is negative\ncheckpoint_interval: -1s is negative" +
				"\naccess.auth_failure_burst: 0 is below 1\naccess.auth_failure_factor: 0.5 is below 1" +
				"\naccess.store_read_burst: -1 is below 1\naccess.store_read_factor: +Inf is below 1" +
				"\naccess.credential_request_burst: 0 is below 1\naccess.credential_request_factor: 0 is below 1"},
		{id: component.NewIDWithName(metadata.Type, "badmetrics"),
			wantErr: "metrics: 17 names, at most 16 (each costs every tenant that sends it three detectors)\nmetrics[1]: empty name\nmetrics[2]: \"http.server.request.duration\" is listed twice\nmax_services: 65 is outside [0,64]"},
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
	assert.EqualError(t, confmap.Validate(cfg), "fingerprint_secret: must be at least 16 bytes (use the tenant processor's, e.g. ${env:TENANCY_FINGERPRINT_SECRET})")
}

// TestDetectorConfigIsTheScoredOne: the connector runs the detector NAB
// scores (anomaly.DefaultConfig, with the surprise rule and the quiet
// span), changing only what its configuration and the tenant's policy
// set.
func TestDetectorConfigIsTheScoredOne(t *testing.T) {
	c := createDefaultConfig().(*Config)
	c.Probation, c.Suppress = 10, 7
	got := c.detectorConfig(0.8)
	want := anomaly.DefaultConfig()
	want.Sensitivity, want.Probation, want.Suppress = 0.8, 10, 7
	assert.Equal(t, want, got)
	assert.Positive(t, got.SurpriseRate)
	assert.GreaterOrEqual(t, got.Quiet, 0)
}
