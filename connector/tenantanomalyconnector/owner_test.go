package tenantanomalyconnector

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
)

// TestRepeatedTenantIDCountsForNobody: a resource with tenant.id twice
// must not feed either tenant's baseline (a client could poison another
// tenant's volume series, or hide in it).
func TestRepeatedTenantIDCountsForNobody(t *testing.T) {
	v := &view{tenants: map[string]viewEntry{"acme": {sensitivity: 0.5}, "globex": {sensitivity: 0.5}}}
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.id","value":{"stringValue":"globex"}},{"key":"tenant.id","value":{"stringValue":"acme"}}]},"scopeLogs":[]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := v.owner(ld.ResourceLogs().At(0).Resource().Attributes()); ok {
		t.Fatal("a resource with a repeated tenant.id was counted for a tenant")
	}
	single := plog.NewLogs().ResourceLogs().AppendEmpty().Resource().Attributes()
	single.PutStr("tenant.id", "acme")
	if _, _, _, ok := v.owner(single); !ok {
		t.Fatal("a stamped resource was not counted")
	}
}

// TestSpoofCountsForTheSender: acme's key naming globex is quarantined;
// it must count for acme, never raise globex's quarantined feature.
func TestSpoofCountsForTheSender(t *testing.T) {
	v := &view{tenants: map[string]viewEntry{"acme": {sensitivity: 0.1}, "globex": {sensitivity: 0.9}}}
	attrs := plog.NewLogs().ResourceLogs().AppendEmpty().Resource().Attributes()
	attrs.PutStr("tenant.id", "_quarantine")
	attrs.PutStr("tenant.quarantine.reason", "spoofed")
	attrs.PutStr("tenant.claimed", "globex")
	attrs.PutStr("tenant.authenticated", "acme")
	e, quarantined, spoof, ok := v.owner(attrs)
	if !ok || !quarantined || !spoof || e.sensitivity != 0.1 {
		t.Fatalf("spoof counted for %+v (quarantined %v, spoof %v, ok %v), want acme's series, as a spoof", e, quarantined, spoof, ok)
	}
	// Over a trusted header the sender is no tenant the connector can name,
	// and the claim contradicted it: the spoof counts for nobody.
	attrs.Remove("tenant.authenticated")
	attrs.PutStr("tenant.source", "tenantgateway 10.0.0.7:51234")
	if e, _, _, ok := v.owner(attrs); ok {
		t.Fatalf("a spoof over a trusted header counted for %+v, want nobody", e)
	}
	// A claim no one contradicted (an unverified or unknown tenant) is the
	// only identity there is, and counts for the claimed tenant.
	attrs.PutStr("tenant.quarantine.reason", "unverified")
	if e, _, spoof, ok := v.owner(attrs); !ok || spoof || e.sensitivity != 0.9 {
		t.Fatalf("an unverified claim counts for the claimed tenant, got %+v", e)
	}
}
