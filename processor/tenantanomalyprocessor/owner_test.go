package tenantanomalyprocessor

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
	if _, _, ok := v.owner(ld.ResourceLogs().At(0).Resource().Attributes()); ok {
		t.Fatal("a resource with a repeated tenant.id was counted for a tenant")
	}
	single := plog.NewLogs().ResourceLogs().AppendEmpty().Resource().Attributes()
	single.PutStr("tenant.id", "acme")
	if _, _, ok := v.owner(single); !ok {
		t.Fatal("a stamped resource was not counted")
	}
}
