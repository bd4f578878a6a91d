package tenantrouterexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configcompression"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	tests := []struct {
		id      component.ID
		check   func(t *testing.T, c *Config)
		wantErr []string
	}{
		{id: component.NewID(metadata.Type), check: func(t *testing.T, c *Config) {
			want := &BackendConfig{Type: TypeLocalstore, ClientConfig: confighttp.NewDefaultClientConfig(), Directory: "./data", MasterKeyFile: "./master.key", RetentionInterval: 30 * time.Minute}
			assert.Equal(t, want, c.Backends["local"])
			m := c.Backends["mimir"]
			auth, _ := m.Headers.Get("Authorization")
			assert.Equal(t, configopaque.String("Bearer token"), auth, "headers: a map, as before")
			assert.Equal(t, "http://127.0.0.1:9009/otlp", m.Endpoint)
			assert.Equal(t, 5*time.Second, m.Timeout)
			assert.True(t, m.Keepalive.HasValue(), "a backend starts from confighttp's defaults (keep-alives on)")
			assert.True(t, m.ForceAttemptHTTP2)
			assert.Equal(t, "./ca.pem", m.TLS.CAFile)
			assert.Equal(t, "./client.pem", m.TLS.CertFile)
			assert.Equal(t, configcompression.TypeGzip, m.Compression)
			assert.Equal(t, "http://proxy:3128", m.ProxyURL)
			assert.Equal(t, component.MustNewID("bearertokenauth"), m.Auth.Get().AuthenticatorID)
			assert.Equal(t, map[string]string{"X-Tenant-Token": "Bearer {credential}"}, m.TenantHeaders)
			assert.Equal(t, &configretry.BackOffConfig{Enabled: true, InitialInterval: time.Second, MaxInterval: 10 * time.Second, MaxElapsedTime: 2 * time.Minute}, m.Retry)
			assert.Equal(t, 10, m.QueueSize)
			assert.Equal(t, "AccountID", c.Backends["victorialogs"].TenantHeader)
			id, ok := c.Backends["victorialogs"].backendTenant("globex")
			assert.True(t, ok)
			assert.Equal(t, "2", id)
			_, ok = c.Backends["victorialogs"].backendTenant("initech")
			assert.False(t, ok, "a backend with tenant_ids has no id for a tenant not in it")
			id, _ = c.Backends["mimir"].backendTenant("initech")
			assert.Equal(t, "initech", id, "without tenant_ids a tenant goes under its own id")
			assert.Equal(t, []string{"mimir"}, c.defaults("metrics"))
			assert.Equal(t, []string{"local"}, c.defaults("logs"), "the localstore is the default")
			assert.Equal(t, []string{"local"}, c.reserved("_governance"))
			assert.Equal(t, 100, c.QueueSize)
			assert.EqualValues(t, 64<<20, c.QueueBytes)
			assert.EqualValues(t, 256<<20, c.TotalQueueBytes)
		}},
		{id: component.NewIDWithName(metadata.Type, "minimal"), check: func(t *testing.T, c *Config) {
			assert.Equal(t, []string{"store"}, c.defaults("traces"))
			assert.Equal(t, []string{"store"}, c.reserved("_quarantine"))
		}},
		{id: component.NewIDWithName(metadata.Type, "no_backends"), wantErr: []string{"backends: name at least one backend"}},
		{id: component.NewIDWithName(metadata.Type, "bad_backend"), wantErr: []string{
			"backends.store.directory: a localstore needs",
			`backends.remote.endpoint: want an http(s) URL, found "127.0.0.1:4318"`,
			`backends.remote.tenant_header: "Bad Header" is not a valid header name`,
			"backends.loki.stream_labels: at most 10, found 11",
			`backends.other.type: must be localstore, otlphttp, remotewrite, loki or kafka, found "nats"`,
			"backends.prom.stream_labels: only a loki backend has stream labels",
		}},
		{id: component.NewIDWithName(metadata.Type, "unknown_names"), wantErr: []string{
			`default_backends.logs[0]: no backend named "nowhere" under backends`,
			"default_backends.profiles: not a signal",
			`quarantine_backends[0]: no backend named "gone"`,
		}},
		{id: component.NewIDWithName(metadata.Type, "no_localstore"), wantErr: []string{
			"default_backends.logs: none given and no localstore backend to default to",
			"quarantine_backends: none given",
		}},
		{id: component.NewIDWithName(metadata.Type, "wrong_signal"), wantErr: []string{
			"default_backends.logs[0]: prom is a remotewrite backend, which does not take logs",
			"default_backends.traces[0]: logs is a loki backend, which does not take traces",
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_tenant_ids"), wantErr: []string{
			"backends.store.tenant_ids: a localstore keeps each tenant under its own id",
			`backends.vl.tenant_ids.globex: id "1" is already acme's`,
			"backends.vl.tenant_ids.bad/id: ",
			`backends.vl.tenant_ids.initech: "" is not a header value`,
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_bytes"), wantErr: []string{
			"backends.store.queue_bytes: must not be negative",
			"queue_bytes: 5000 is more than total_queue_bytes 1000",
			"backends.remote.queue_bytes: 2000 is more than total_queue_bytes 1000",
		}},
		{id: component.NewIDWithName(metadata.Type, "zero_bytes"), wantErr: []string{
			"queue_bytes: must be positive, found 0",
			"total_queue_bytes: must be positive, found 0",
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_transport"), wantErr: []string{
			"backends.rw.compression: a remotewrite body is snappy-encoded by its protocol",
			"backends.otlp.headers: X-Scope-OrgID is the tenant header, set per tenant",
			"backends.otlp.tenant_headers.Authorization: the value must hold {credential}",
			"backends.otlp.tenant_headers.X-Api-Key: also under headers",
			"backends.otlp.tenant_headers.X-Scope-OrgID: the tenant header carries the tenant id",
			"backends.store.tenant_headers: a localstore sends no requests",
			"quarantine_backends[0]: otlp has tenant_headers",
		}},
		{id: component.NewIDWithName(metadata.Type, "kafka"), check: func(t *testing.T, c *Config) {
			k := c.Backends["edge"]
			assert.Equal(t, []string{"127.0.0.1:9092", "127.0.0.1:9093"}, k.Kafka.Brokers)
			assert.Equal(t, "tenancy-edge", k.Kafka.ClientID)
			assert.Equal(t, "./ca.pem", k.Kafka.TLS.CAFile)
			assert.Equal(t, "SCRAM-SHA-512", k.Kafka.SASL.Mechanism)
			assert.Equal(t, "zstd", k.Kafka.Compression)
			assert.EqualValues(t, 3, k.Kafka.Partitions)
			assert.Equal(t, "tenancy.{tenant}.{signal}", k.Kafka.Topic, "the default template")
			assert.Equal(t, "all", k.Kafka.RequiredAcks)
			assert.True(t, k.Kafka.Idempotent, "idempotent by default")
			assert.Equal(t, DefaultKafkaMaxMessageBytes, k.Kafka.MaxMessageBytes)
			assert.Equal(t, 5*time.Second, k.Timeout)
			assert.True(t, k.takes("traces"))
		}},
		{id: component.NewIDWithName(metadata.Type, "bad_kafka"), wantErr: []string{
			"backends.k1.endpoint: a kafka backend names its brokers under kafka.brokers",
			`backends.k1.kafka.brokers[0]: want host:port, found "nohost"`,
			"backends.k1.kafka.sasl.mechanism: must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
			`backends.k1.kafka.topic: "tenancy.{tenant}" must hold {signal} exactly once`,
			`backends.k1.kafka.reserved_topic: "tenancy.{signal}" must hold {tenant}`,
			"backends.k1.kafka.idempotent: needs required_acks all, found leader",
			`backends.k1.kafka.compression: must be none, gzip, snappy, lz4 or zstd, found "brotli"`,
			"backends.k1.tenant_ids, tenant_headers, tenant_header: a kafka backend carries the tenant",
			"backends.k2.kafka.brokers: name at least one broker",
			`backends.k2.kafka.required_acks: must be all, leader or none, found "some"`,
			"backends.k2.kafka.max_message_bytes: must be positive",
		}},
		{id: component.NewIDWithName(metadata.Type, "key_in_env_name"), wantErr: []string{
			`backends.store.master_key_env: "0123abcd 4567" is not an environment variable name`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.wantErr) == 0 {
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
