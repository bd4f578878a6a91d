package policy

import (
	"slices"
	"time"
)

// Status says whether a tenant's data is accepted.
type Status string

const (
	// StatusActive tenants' data flows.
	StatusActive Status = "active"
	// StatusSuspended tenants' data is quarantined with reason "suspended".
	StatusSuspended Status = "suspended"
)

// Signal names a telemetry signal in per-signal policy keys.
type Signal string

// The signals, in the order the policy file lists them.
const (
	SignalLogs    Signal = "logs"
	SignalMetrics Signal = "metrics"
	SignalTraces  Signal = "traces"
)

// Signals lists every signal a per-signal key may name.
var Signals = []Signal{SignalLogs, SignalMetrics, SignalTraces}

// Action is what redaction does to a value of a class.
type Action string

// Redaction actions.
const (
	ActionMask   Action = "mask"
	ActionRemove Action = "remove"
	ActionHash   Action = "hash"
	ActionKeep   Action = "keep"
)

// RedactionClasses are the PII and secret classes a policy may name.
var RedactionClasses = []string{
	"email", "credit_card", "iban", "ipv4", "ipv6", "us_ssn", "phone",
	"jwt", "auth_header", "url_password", "secret_pair", "private_key",
	"aws_key", "github_token", "slack_token", "stripe_key", "google_api_key",
	"username", "endpoint",
}

// Redaction is a tenant's redaction policy.
type Redaction struct {
	// Classes maps a class of RedactionClasses to its action. A class that is
	// absent is kept.
	Classes map[string]Action
	// Rules are the tenant's own classes by name (the defaults' and the
	// tenant's, the tenant's winning on a name). A rule's name is its class
	// in audit attributes and metrics.
	Rules map[string]Rule
}

// Rule is a tenant-defined redaction class: values that Pattern (RE2
// syntax, so matching is linear in the input) matches, looked for only in
// strings that hold one of Keywords (ASCII case-insensitively), so a rule
// never runs on every string.
type Rule struct {
	Pattern  string
	Keywords []string
	Action   Action
}

// Limits are a tenant's edge limits. Zero means unlimited, which only a
// tenant may say for itself: the defaults block keeps every limit bounded.
type Limits struct {
	RecordsPerSecond       int64
	BytesPerSecond         int64
	MaxRequestBytes        int64
	MaxDecompressedBytes   int64
	MaxAttributesPerRecord int64
	MaxConcurrentRequests  int64
}

// Anomaly is a tenant's anomaly detection setting.
type Anomaly struct {
	// Enabled turns detection on for the tenant.
	Enabled bool
	// Sensitivity in [0, 1]; 0.5 is the benchmarked setting.
	Sensitivity float64
}

// Continuity is a tenant's disaster-recovery targets; 0 is none.
type Continuity struct {
	// RPO is how much recent data a restore may lose at most.
	RPO time.Duration
	// RTO is how long restoring the tenant may take at most.
	RTO time.Duration
}

// Tenant is one tenant's effective policy: its own keys over the defaults.
type Tenant struct {
	ID          string
	Status      Status
	Identifiers []string
	// APIKeys are the SHA-256 digests of the tenant's API keys.
	APIKeys []KeyHash
	// ClientCerts are SHA-256 fingerprints of client certificates (mTLS).
	ClientCerts []string
	Redaction   Redaction
	// Retention per signal; data older than this is out of retention.
	Retention map[Signal]time.Duration
	// MaxFutureSkew is how far past its ingestion a record's timestamp
	// may be and still count: a later record is aged from its ingestion, so
	// a wrong clock cannot keep it past its retention.
	MaxFutureSkew time.Duration
	// Residency is the region the tenant's data must stay in ("" = any).
	Residency string
	// Tier groups tenants on the fleet dashboard and in alerts ("" = none).
	Tier string
	// Continuity is the tenant's recovery targets (make drill-continuity
	// measures a restore against them).
	Continuity Continuity
	// Backends per signal, by the names the router's config gives them.
	Backends map[Signal][]string
	Limits   Limits
	Anomaly  Anomaly
	// BackendCredentials names, by router backend, the environment
	// variable holding the tenant's own credential there (never the
	// credential itself).
	BackendCredentials map[string]string
	// Line is where the tenant is declared in the policy file.
	Line int
}

// Active reports whether the tenant's data may flow.
func (t *Tenant) Active() bool { return t.Status == StatusActive }

// Policy is a loaded, validated tenants.yaml. It is never modified after
// Parse returns, so it is safe to share between goroutines.
type Policy struct {
	// Source is the file the policy came from.
	Source string
	// Version is a hash of the file's content; audit records carry it.
	Version string
	// Defaults is the effective default tenant (built-ins under the file's
	// defaults block), with no id, identifiers or keys.
	Defaults Tenant

	tenants map[string]*Tenant
	ids     []string
	keys    map[KeyHash]keyEntry
}

// Tenant returns the tenant with id.
func (p *Policy) Tenant(id string) (*Tenant, bool) {
	t, ok := p.tenants[id]
	return t, ok
}

// TenantIDs returns the declared tenant ids, sorted.
func (p *Policy) TenantIDs() []string { return slices.Clone(p.ids) }

// Len is the number of declared tenants.
func (p *Policy) Len() int { return len(p.ids) }

// builtinDefaults are the values a key takes when neither the tenant nor the
// defaults block sets it.
func builtinDefaults() Tenant {
	return Tenant{
		Status:    StatusActive,
		Redaction: Redaction{Classes: map[string]Action{}},
		Retention: map[Signal]time.Duration{
			SignalLogs:    30 * 24 * time.Hour,
			SignalMetrics: 90 * 24 * time.Hour,
			SignalTraces:  7 * 24 * time.Hour,
		},
		MaxFutureSkew: time.Hour,
		Backends:      map[Signal][]string{},
		// Every edge limit is bounded unless a tenant lifts it. Decoding
		// costs 3-6 bytes of memory per request byte for ordinary OTLP and
		// up to 60 for the worst protobuf we could build (the gateway's
		// BenchmarkDecodeAmplification), so a request is kept to 4 MiB, as
		// OTLP/gRPC's default, and a tenant to 4 at once.
		Limits: Limits{
			RecordsPerSecond:       100_000,
			BytesPerSecond:         32 << 20,
			MaxRequestBytes:        4 << 20,
			MaxDecompressedBytes:   4 << 20,
			MaxAttributesPerRecord: 128,
			MaxConcurrentRequests:  4,
		},
		Anomaly: Anomaly{Enabled: true, Sensitivity: 0.5},
	}
}
