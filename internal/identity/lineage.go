package identity

// AttrLineage (resource) is the request a resource came in with, as a map
// the tenant processor writes once per accepted request and copies onto
// each of its resources: a resource attribute, not one per record, so it
// costs a request, not a record. The local store moves it into its
// lineage table and each record's lineage column; other backends receive
// it as it is (the lineage id is how their copy is matched to the
// store's). Like every tenant.* key, a client's copy is removed by the
// tenant processor before its own is written.
const AttrLineage = "tenant.lineage"

// Keys of the tenant.lineage map.
const (
	LineageID = "id" // 32 hex digits, time-ordered (UUIDv7 layout)
	// LineageAccepted is when the tenant processor accepted the request,
	// Unix nanoseconds (an int).
	LineageAccepted = "accepted_unix_nano"
	// LineageReceiver is the receiver that authenticated the request, when
	// it names itself (AuthData.Receiver); LineageAuth is how the tenant
	// was proved (a Source).
	LineageReceiver = "receiver"
	LineageAuth     = "auth"
	// LineageClient is the client's address as the receiver saw it.
	LineageClient = "client"
	// LineageTenant is the tenant the request proved, whatever the
	// resource claimed: on a quarantined resource, its sender.
	LineageTenant     = "tenant"
	LineageCredential = "credential" // KeyID or CertID, never the key
	// LineageCollector is the collector instance (service.instance.id).
	LineageCollector     = "collector"
	LineagePolicyVersion = "policy_version"
	// LineageDecision is the tenant processor's decision on the resource:
	// "accepted" or "quarantined:<reason>".
	LineageDecision = "decision"
)

// Decisions of LineageDecision.
const (
	DecisionAccepted          = "accepted"
	DecisionQuarantinedPrefix = "quarantined:"
)
