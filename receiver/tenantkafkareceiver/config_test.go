package tenantkafkareceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{name: "", check: func(t *testing.T, c *Config) {
			assert.Equal(t, "tenancy.{tenant}.{signal}", c.Topic)
			assert.Equal(t, DefaultGroupID, c.GroupID)
			assert.Equal(t, "earliest", c.InitialOffset, "a new tenant's first records are read")
			assert.False(t, c.Reserved)
		}},
		{name: "full", check: func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"127.0.0.1:9092", "127.0.0.1:9093"}, c.Brokers)
			assert.Equal(t, "tenancy-processing", c.ClientID)
			assert.Equal(t, "./ca.pem", c.TLS.CAFile)
			assert.Equal(t, "PLAIN", c.SASL.Mechanism)
			assert.Equal(t, "t.{tenant}.{signal}", c.Topic)
			assert.Equal(t, "processing", c.GroupID)
			assert.Equal(t, "latest", c.InitialOffset)
			assert.Equal(t, 6*time.Second, c.SessionTimeout)
			assert.Equal(t, 2*time.Second, c.HeartbeatInterval)
			assert.Equal(t, 5*time.Second, c.TopicRefreshInterval)
			assert.Equal(t, 500*time.Millisecond, c.RetryInterval)
		}},
		{name: "reserved", check: func(t *testing.T, c *Config) { assert.True(t, c.Reserved) }},
		{name: "bad", wantErr: []string{
			"brokers: name at least one broker",
			`reserved: topic "tenancy.{signal}" must hold {tenant}`,
			"group_id: must not be empty",
			`initial_offset: must be earliest or latest, found "newest"`,
			"heartbeat_interval (3s) must be positive and below session_timeout (2s)",
			"topic_refresh_interval: must be positive",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.wantErr == nil {
				require.NoError(t, err)
				tt.check(t, cfg.(*Config))
				return
			}
			require.Error(t, err)
			for _, w := range tt.wantErr {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
