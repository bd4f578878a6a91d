package identity

import (
	"encoding/json"
	"strings"
)

// AttrLineage (resource) is the request a resource came in with: its
// Lineage as a JSON object, written by the tenant processor once per
// accepted request and put on each of its resources, a string shared by
// all (a resource attribute, not one per record, and one value, not a map
// of them: it costs a request, not a resource's worth of values). The
// local store moves it into its lineage table and each record's lineage
// column; OTLP and Kafka backends receive it as it is (the id is how
// their copy is matched to the store's). Like every tenant.* key, a
// client's copy is removed by the tenant processor before its own is
// written.
const AttrLineage = "tenant.lineage"

// Lineage is what the tenant processor knows of a request. The decision on
// each resource is not in it: a resource's tenant.id and
// tenant.quarantine.reason are it.
type Lineage struct {
	// ID is 32 hex digits, time-ordered (UUIDv7 layout); first in the
	// JSON, so LineageIDOf finds it without decoding the rest.
	ID string `json:"id"`
	// Accepted is when the tenant processor accepted the request, Unix
	// nanoseconds.
	Accepted int64 `json:"accepted_unix_nano"`
	// Receiver is the receiver that authenticated the request, when it
	// names itself (AuthData.Receiver); Auth is how the tenant was proved
	// (a Source).
	Receiver string `json:"receiver,omitempty"`
	Auth     string `json:"auth,omitempty"`
	// Client is the client's address as the receiver saw it.
	Client string `json:"client,omitempty"`
	// Tenant is the tenant the request proved, whatever a resource
	// claimed: on a quarantined resource, its sender.
	Tenant     string `json:"tenant,omitempty"`
	Credential string `json:"credential,omitempty"` // KeyID or CertID, never the key
	// Collector is the collector instance (service.instance.id).
	Collector     string `json:"collector,omitempty"`
	PolicyVersion string `json:"policy_version,omitempty"`
	// Upstream is the lineage the data already had when a receiver the
	// tenant processor trusts relayed it (an edge collector's, read from
	// its Kafka message): where the request first came in, with the client
	// and credential only the edge saw. One level: its own Upstream is
	// dropped.
	Upstream *Lineage `json:"upstream,omitempty"`
}

// Encode is l as the value of AttrLineage.
func (l Lineage) Encode() string {
	b, _ := json.Marshal(l) // strings and an int: cannot fail
	return string(b)
}

// ParseLineage reads an AttrLineage value; ok is false for anything the
// tenant processor would not have written (no id).
func ParseLineage(s string) (l Lineage, ok bool) {
	if json.Unmarshal([]byte(s), &l) != nil || l.ID == "" {
		return Lineage{}, false
	}
	return l, true
}

// LineageIDOf is the id in an AttrLineage value, "" when none.
func LineageIDOf(s string) string {
	const prefix = `{"id":"`
	if rest, ok := strings.CutPrefix(s, prefix); ok {
		if i := strings.IndexAny(rest, `"\`); i > 0 && rest[i] == '"' {
			return rest[:i]
		}
	}
	l, _ := ParseLineage(s)
	return l.ID
}

// Decisions of the tenant processor on a resource, as lineage reports
// them.
const (
	DecisionAccepted          = "accepted"
	DecisionQuarantinedPrefix = "quarantined:"
)
