package tenantrouterexporter

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/confmap"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Backend types.
const (
	TypeLocalstore  = "localstore"
	TypeOTLPHTTP    = "otlphttp"
	TypeRemoteWrite = "remotewrite"
	TypeLoki        = "loki"
	TypeKafka       = "kafka"
)

// DefaultTenantHeader carries the tenant to Loki, Mimir, Cortex and Tempo.
const DefaultTenantHeader = "X-Scope-OrgID"

// Config of the tenantrouter exporter.
type Config struct {
	// Policy is the id of the tenantpolicy extension whose per-tenant
	// backends: choose where each tenant's data goes.
	Policy component.ID `mapstructure:"policy"`
	// Backends names every destination once; tenants refer to them by name.
	Backends map[string]*BackendConfig `mapstructure:"backends"`
	// DefaultBackends per signal (logs, metrics, traces), for tenants whose
	// policy names none. Empty: the localstore backend.
	DefaultBackends map[string][]string `mapstructure:"default_backends"`
	// QuarantineBackends receive the _quarantine tenant. Empty: the
	// localstore backend. Policy backends never apply to it.
	QuarantineBackends []string `mapstructure:"quarantine_backends"`
	// GovernanceBackends receive the _governance tenant. Empty: the
	// localstore backend.
	GovernanceBackends []string `mapstructure:"governance_backends"`
	// QueueSize is how many batches each (tenant, backend) queue holds; a
	// batch that finds its queue full is refused and counted (queue_full).
	QueueSize int `mapstructure:"queue_size"`
	// QueueBytes bounds each (tenant, backend) queue in bytes (a batch's
	// size as OTLP protobuf), so one tenant cannot hold the memory every
	// other tenant needs; a batch over it is refused (queue_full).
	QueueBytes int64 `mapstructure:"queue_bytes"`
	// TotalQueueBytes bounds every queue together; a batch over it is
	// refused (memory_limit).
	TotalQueueBytes int64 `mapstructure:"total_queue_bytes"`
	// Timeout of one send to a backend, unless the backend sets its own.
	Timeout time.Duration `mapstructure:"timeout"`
	// RetryOnFailure is the backoff of every queue, unless the backend
	// sets its own retry.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// Storage names a storage extension (file_storage) that keeps every
	// queued batch until it is settled, so a restart or crash loses none.
	// Unset: queues live in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// WaitForDelivery answers the pipeline only once each backend took
	// the batch (or refused it): a retryable failure is returned after one
	// attempt instead of retried in the queue. Behind a Kafka receiver that
	// commits an offset on that answer, nothing committed is lost with the
	// process, without a journal (config/processing.yaml).
	WaitForDelivery bool `mapstructure:"wait_for_delivery"`
}

// BackendConfig is one destination.
type BackendConfig struct {
	// Type is localstore, otlphttp, remotewrite (metrics only), loki
	// (logs only) or kafka.
	Type string `mapstructure:"type"`
	// ClientConfig is the collector's HTTP client: endpoint, tls (CA,
	// client certificate for mTLS), auth (an authenticator extension),
	// compression, proxy_url, headers (on every request, every tenant's;
	// secrets in ${env:...}), timeout (one send; 0 takes the exporter's)
	// and the rest of confighttp. Endpoint is the base URL for otlphttp
	// (signals go to /v1/logs, /v1/metrics, /v1/traces under it); the full
	// push URL for remotewrite (.../api/v1/write or /api/v1/push) and loki
	// (.../loki/api/v1/push).
	confighttp.ClientConfig `mapstructure:",squash"`
	// TenantHeaders are headers carrying the tenant's own credential at
	// this backend: "{credential}" in a value is replaced by the content
	// of the environment variable the tenant's policy names under
	// backend_credentials.<this backend>. A tenant without one is never
	// sent here (counted, reason no_credential).
	TenantHeaders map[string]string `mapstructure:"tenant_headers"`
	// TenantHeader carries the tenant id on every request; default
	// X-Scope-OrgID.
	TenantHeader string `mapstructure:"tenant_header"`
	// TenantIDs maps a tenant to the id this backend knows it by, for
	// backends whose tenants are not ours (VictoriaLogs' AccountID is a
	// number). When set, a tenant absent from it is never sent here
	// (counted, reason no_backend_tenant_id), and no two tenants share an id.
	TenantIDs map[string]string `mapstructure:"tenant_ids"`
	// Region is where this backend keeps data, in the policy's residency
	// syntax. A tenant whose policy names a residency is sent only to
	// backends of that region (others count it, reason residency); a
	// backend without a region takes only tenants without one.
	Region string `mapstructure:"region"`
	// Retry overrides the exporter's retry_on_failure for this backend.
	Retry *configretry.BackOffConfig `mapstructure:"retry"`
	// QueueSize overrides the exporter's queue_size for this backend.
	QueueSize int `mapstructure:"queue_size"`
	// QueueBytes overrides the exporter's queue_bytes for this backend.
	QueueBytes int64 `mapstructure:"queue_bytes"`
	// Consumers is how many batches of one tenant are in flight to this
	// backend at once; default 1, which keeps each tenant's batches in
	// order (Prometheus remote write refuses out-of-order samples).
	Consumers int `mapstructure:"consumers"`

	// Directory (localstore) holds one folder per tenant.
	Directory string `mapstructure:"directory"`
	// MasterKeyFile (localstore) holds the master key (64 hex digits).
	// Empty: the key comes from the environment variable MasterKeyEnv.
	MasterKeyFile string `mapstructure:"master_key_file"`
	// MasterKeyEnv (localstore) names the environment variable holding the
	// master key; default TENANCY_MASTER_KEY. The key itself is never
	// written in the config.
	MasterKeyEnv string `mapstructure:"master_key_env"`
	// RetentionInterval (localstore) is how often each tenant's expired
	// rows are deleted; 0 disables the store's retention runs.
	RetentionInterval time.Duration `mapstructure:"retention_interval"`
	// AnchorInterval (localstore) is how often the head of each audit
	// chain written since the last anchor goes to the store's anchor log
	// (~store/anchors.jsonl) and, as a record, to _governance. 0: every minute.
	AnchorInterval time.Duration `mapstructure:"anchor_interval"`
	// MaxOpenTenants (localstore) bounds the tenant databases kept open
	// (about 0.4 MiB each); idle ones beyond it are closed and reopened on
	// their next batch. 0: 256.
	MaxOpenTenants int `mapstructure:"max_open_tenants"`

	// StreamLabels (loki) are the resource attributes that become stream
	// labels (dots become underscores); default [service.name]. Every other
	// attribute is sent as structured metadata.
	StreamLabels []string `mapstructure:"stream_labels"`

	// Kafka (kafka) is the broker connection, topics and producer
	// (kafka.go). A kafka backend has no endpoint.
	Kafka KafkaConfig `mapstructure:"kafka"`
}

// credentialPlaceholder in a tenant_headers value stands for the tenant's
// credential.
const credentialPlaceholder = "{credential}"

// Unmarshal starts every backend from the collector's HTTP client
// defaults (keep-alives, HTTP/2), as contrib exporters do in their
// createDefaultConfig; backends are map entries, which have no defaults.
func (b *BackendConfig) Unmarshal(conf *confmap.Conf) error {
	b.ClientConfig = confighttp.NewDefaultClientConfig()
	b.Kafka = defaultKafkaConfig()
	if err := conf.Unmarshal(b); err != nil {
		return err
	}
	if b.Type != TypeKafka {
		b.Kafka = KafkaConfig{}
	}
	return nil
}

// MaxStreamLabels keeps a tenant's Loki streams few: Loki's default limit
// is 15 label names per stream.
const MaxStreamLabels = 10

// backendTenant is the id a tenant goes to this backend under: its own,
// or its tenant_ids entry when the backend has tenant_ids; false when the
// backend has tenant_ids and none for this tenant.
func (b *BackendConfig) backendTenant(tenant string) (string, bool) {
	if len(b.TenantIDs) == 0 {
		return tenant, true
	}
	id, ok := b.TenantIDs[tenant]
	return id, ok
}

// signals says which signals a backend type takes.
func (b *BackendConfig) takes(sig policy.Signal) bool {
	switch b.Type {
	case TypeRemoteWrite:
		return sig == policy.SignalMetrics
	case TypeLoki:
		return sig == policy.SignalLogs
	}
	return true
}

// Default byte bounds of the queues: one tenant's queue holds a 64 MiB
// request (the edge lets in 4 MiB unless a policy raises it); all queues
// together hold four, which keeps the router's queued pdata near 1 GiB at
// most (pdata takes a few times its protobuf size).
const (
	DefaultQueueBytes      = 64 << 20
	DefaultTotalQueueBytes = 256 << 20
)

func createDefaultConfig() component.Config {
	return &Config{
		Policy:          component.MustNewID("tenantpolicy"),
		QueueSize:       100,
		QueueBytes:      DefaultQueueBytes,
		TotalQueueBytes: DefaultTotalQueueBytes,
		Timeout:         10 * time.Second,
		RetryOnFailure:  configretry.NewDefaultBackOffConfig(),
	}
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for _, r := range h {
		if r <= ' ' || r >= 0x7f || r == ':' {
			return false
		}
	}
	return true
}

func validHeaderValue(v string) bool {
	if v == "" || strings.TrimSpace(v) != v {
		return false
	}
	for _, r := range v {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Backends) == 0 {
		errs = append(errs, errors.New("backends: name at least one backend (e.g. local: {type: localstore, directory: ...})"))
	}
	if c.WaitForDelivery && c.Storage != nil {
		errs = append(errs, errors.New("wait_for_delivery: nothing is acknowledged before it is delivered, so storage would journal nothing worth keeping; unset one"))
	}
	for _, name := range sortedKeys(c.Backends) {
		b := c.Backends[name]
		if b == nil {
			errs = append(errs, fmt.Errorf("backends.%s: empty", name))
			continue
		}
		for _, err := range b.validate() {
			errs = append(errs, fmt.Errorf("backends.%s.%w", name, err))
		}
	}
	for sig, names := range c.DefaultBackends {
		if !slices.Contains(policy.Signals, policy.Signal(sig)) {
			errs = append(errs, fmt.Errorf("default_backends.%s: not a signal (logs, metrics, traces)", sig))
		}
		errs = append(errs, c.checkNames("default_backends."+sig, names)...)
		for i, n := range names {
			if b := c.Backends[n]; b != nil && !b.takes(policy.Signal(sig)) {
				errs = append(errs, fmt.Errorf("default_backends.%s[%d]: %s is a %s backend, which does not take %s", sig, i, n, b.Type, sig))
			}
		}
	}
	errs = append(errs, c.checkNames("quarantine_backends", c.QuarantineBackends)...)
	errs = append(errs, c.checkNames("governance_backends", c.GovernanceBackends)...)
	for key, names := range map[string][]string{"quarantine_backends": c.QuarantineBackends, "governance_backends": c.GovernanceBackends} {
		for i, n := range names {
			if b := c.Backends[n]; b != nil && len(b.TenantHeaders) > 0 {
				errs = append(errs, fmt.Errorf("%s[%d]: %s has tenant_headers, and the pipeline tenants have no policy to name a credential", key, i, n))
			}
		}
	}
	if c.localstore() == "" && len(c.Backends) > 0 {
		for _, sig := range policy.Signals {
			if len(c.DefaultBackends[string(sig)]) == 0 {
				errs = append(errs, fmt.Errorf("default_backends.%s: none given and no localstore backend to default to", sig))
			}
		}
		if len(c.QuarantineBackends) == 0 {
			errs = append(errs, errors.New("quarantine_backends: none given and no localstore backend to default to"))
		}
		if len(c.GovernanceBackends) == 0 {
			errs = append(errs, errors.New("governance_backends: none given and no localstore backend to default to"))
		}
	}
	if c.QueueSize <= 0 {
		errs = append(errs, fmt.Errorf("queue_size: must be positive, found %d", c.QueueSize))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, found %s", c.Timeout))
	}
	if c.QueueBytes <= 0 {
		errs = append(errs, fmt.Errorf("queue_bytes: must be positive, found %d", c.QueueBytes))
	}
	if c.TotalQueueBytes <= 0 {
		errs = append(errs, fmt.Errorf("total_queue_bytes: must be positive, found %d", c.TotalQueueBytes))
	}
	if c.TotalQueueBytes > 0 && c.QueueBytes > c.TotalQueueBytes {
		errs = append(errs, fmt.Errorf("queue_bytes: %d is more than total_queue_bytes %d; one queue could take every other queue's room", c.QueueBytes, c.TotalQueueBytes))
	}
	for _, name := range sortedKeys(c.Backends) {
		if b := c.Backends[name]; b != nil && c.TotalQueueBytes > 0 && b.QueueBytes > c.TotalQueueBytes {
			errs = append(errs, fmt.Errorf("backends.%s.queue_bytes: %d is more than total_queue_bytes %d", name, b.QueueBytes, c.TotalQueueBytes))
		}
	}
	return errors.Join(errs...)
}

func (c *Config) checkNames(key string, names []string) []error {
	var errs []error
	for i, n := range names {
		if _, ok := c.Backends[n]; !ok {
			errs = append(errs, fmt.Errorf("%s[%d]: no backend named %q under backends", key, i, n))
		}
	}
	return errs
}

// localstore is the name of the first localstore backend (by name), the
// default destination; "" when there is none.
func (c *Config) localstore() string {
	for _, n := range sortedKeys(c.Backends) {
		if b := c.Backends[n]; b != nil && b.Type == TypeLocalstore {
			return n
		}
	}
	return ""
}

func (c *Config) defaults(sig policy.Signal) []string {
	if d := c.DefaultBackends[string(sig)]; len(d) > 0 {
		return d
	}
	return []string{c.localstore()}
}

func (c *Config) reserved(tenant string) []string {
	names := c.QuarantineBackends
	if tenant == policy.Governance {
		names = c.GovernanceBackends
	}
	if len(names) == 0 {
		return []string{c.localstore()}
	}
	return names
}

// holds reports whether this backend may keep the data of a tenant whose
// residency is residency ("" = anywhere).
func (b *BackendConfig) holds(residency string) bool {
	return residency == "" || b.Region == residency
}

func (b *BackendConfig) validate() []error {
	var errs []error
	switch b.Type {
	case TypeLocalstore:
		if b.Directory == "" {
			errs = append(errs, errors.New("directory: a localstore needs the folder that holds one folder per tenant"))
		}
		if b.MasterKeyEnv != "" && !validEnvName(b.MasterKeyEnv) {
			errs = append(errs, fmt.Errorf("master_key_env: %q is not an environment variable name (give its name, never the key)", b.MasterKeyEnv))
		}
		if b.MaxOpenTenants < 0 {
			errs = append(errs, errors.New("max_open_tenants: must not be negative"))
		}
		if b.RetentionInterval < 0 {
			errs = append(errs, errors.New("retention_interval: must not be negative"))
		}
		if b.AnchorInterval < 0 {
			errs = append(errs, errors.New("anchor_interval: must not be negative"))
		}
	case TypeOTLPHTTP, TypeRemoteWrite, TypeLoki:
		u, err := url.Parse(b.Endpoint)
		if b.Endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint: want an http(s) URL, found %q", b.Endpoint))
		}
	case TypeKafka:
		if b.Endpoint != "" {
			errs = append(errs, errors.New("endpoint: a kafka backend names its brokers under kafka.brokers"))
		}
		errs = append(errs, b.Kafka.validate()...)
	default:
		errs = append(errs, fmt.Errorf("type: must be localstore, otlphttp, remotewrite, loki or kafka, found %q", b.Type))
	}
	if len(b.StreamLabels) > 0 && b.Type != TypeLoki {
		errs = append(errs, errors.New("stream_labels: only a loki backend has stream labels"))
	}
	if len(b.StreamLabels) > MaxStreamLabels {
		errs = append(errs, fmt.Errorf("stream_labels: at most %d, found %d (each label multiplies a tenant's streams)", MaxStreamLabels, len(b.StreamLabels)))
	}
	if b.Region != "" && !policy.ValidRegion(b.Region) {
		errs = append(errs, fmt.Errorf("region: %q is not a residency name (lower-case letters, digits and '-', at most 63)", b.Region))
	}
	if b.Type == TypeKafka && (len(b.TenantIDs) > 0 || len(b.TenantHeaders) > 0 || b.TenantHeader != "") {
		errs = append(errs, errors.New("tenant_ids, tenant_headers, tenant_header: a kafka backend carries the tenant in its topic, key and headers"))
	}
	if len(b.TenantIDs) > 0 && b.Type == TypeLocalstore {
		errs = append(errs, errors.New("tenant_ids: a localstore keeps each tenant under its own id"))
	}
	owner := map[string]string{}
	for _, tenant := range sortedKeys(b.TenantIDs) {
		id := b.TenantIDs[tenant]
		if err := policy.ValidateTenantID(tenant); err != nil && tenant != policy.Quarantine && tenant != policy.Governance {
			errs = append(errs, fmt.Errorf("tenant_ids.%s: %w", tenant, err))
		}
		if !validHeaderValue(id) {
			errs = append(errs, fmt.Errorf("tenant_ids.%s: %q is not a header value (empty, or a control character)", tenant, id))
		}
		if other, dup := owner[id]; dup {
			errs = append(errs, fmt.Errorf("tenant_ids.%s: id %q is already %s's; two tenants under one id would see each other's data", tenant, id, other))
		}
		owner[id] = tenant
	}
	if b.TenantHeader != "" && !validHeaderName(b.TenantHeader) {
		errs = append(errs, fmt.Errorf("tenant_header: %q is not a valid header name", b.TenantHeader))
	}
	errs = append(errs, b.validateHeaders()...)
	if b.Compression.IsCompressed() && (b.Type == TypeRemoteWrite || b.Type == TypeLoki) {
		errs = append(errs, fmt.Errorf("compression: a %s body is snappy-encoded by its protocol; leave compression unset", b.Type))
	}
	if b.Timeout < 0 {
		errs = append(errs, errors.New("timeout: must not be negative"))
	}
	if b.Consumers < 0 {
		errs = append(errs, errors.New("consumers: must not be negative"))
	}
	if b.QueueSize < 0 {
		errs = append(errs, errors.New("queue_size: must not be negative"))
	}
	if b.QueueBytes < 0 {
		errs = append(errs, errors.New("queue_bytes: must not be negative"))
	}
	return errs
}

// validateHeaders checks headers and tenant_headers. Neither may set the
// tenant header: a static value there would send every tenant under one
// id; nor may both set one name.
func (b *BackendConfig) validateHeaders() []error {
	var errs []error
	tenantHeader := http.CanonicalHeaderKey(b.TenantHeader)
	if b.TenantHeader == "" {
		tenantHeader = http.CanonicalHeaderKey(DefaultTenantHeader)
	}
	static := map[string]bool{}
	for h := range b.Headers.Iter {
		switch {
		case !validHeaderName(h):
			errs = append(errs, fmt.Errorf("headers: %q is not a valid header name", h))
		case http.CanonicalHeaderKey(h) == tenantHeader && b.Type != TypeLocalstore:
			errs = append(errs, fmt.Errorf("headers: %s is the tenant header, set per tenant; a fixed value would send every tenant under one id", h))
		}
		static[http.CanonicalHeaderKey(h)] = true
	}
	if len(b.TenantHeaders) > 0 && b.Type == TypeLocalstore {
		errs = append(errs, errors.New("tenant_headers: a localstore sends no requests"))
	}
	for _, h := range sortedKeys(b.TenantHeaders) {
		v := b.TenantHeaders[h]
		switch {
		case !validHeaderName(h):
			errs = append(errs, fmt.Errorf("tenant_headers: %q is not a valid header name", h))
		case http.CanonicalHeaderKey(h) == tenantHeader:
			errs = append(errs, fmt.Errorf("tenant_headers.%s: the tenant header carries the tenant id; give the credential its own header", h))
		case static[http.CanonicalHeaderKey(h)]:
			errs = append(errs, fmt.Errorf("tenant_headers.%s: also under headers, which would overwrite the tenant's credential", h))
		case !strings.Contains(v, credentialPlaceholder):
			errs = append(errs, fmt.Errorf("tenant_headers.%s: the value must hold %s (a fixed value belongs under headers)", h, credentialPlaceholder))
		}
	}
	return errs
}

func validEnvName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
