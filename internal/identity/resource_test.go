package identity

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// repeated builds a resource map holding tenant.id twice, as OTLP/JSON and
// protobuf deliver it: pcommon keeps both copies.
func repeated(t *testing.T, first, second string) pcommon.Map {
	t.Helper()
	js := `{"resourceLogs":[{"resource":{"attributes":[` +
		`{"key":"tenant.id","value":{"stringValue":"` + first + `"}},` +
		`{"key":"tenant.id","value":{"stringValue":"` + second + `"}}]},"scopeLogs":[]}]}`
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	m := ld.ResourceLogs().At(0).Resource().Attributes()
	if m.Len() != 2 {
		t.Fatalf("pdata kept %d copies, want 2", m.Len())
	}
	return m
}

func TestTenantOfRepeatedKeyIsMalformed(t *testing.T) {
	for _, pair := range [][2]string{{"globex", "acme"}, {"acme", "acme"}} {
		m := repeated(t, pair[0], pair[1])
		if id, reason := TenantOf(m); id != "" || reason != ReasonMalformed {
			t.Errorf("%v: TenantOf = %q, %q; want malformed", pair, id, reason)
		}
	}
}

func TestTenantOf(t *testing.T) {
	m := pcommon.NewMap()
	if _, r := TenantOf(m); r != ReasonNoTenant {
		t.Errorf("empty: reason %q", r)
	}
	m.PutInt(AttrTenantID, 7)
	if _, r := TenantOf(m); r != ReasonMalformed {
		t.Errorf("int: reason %q", r)
	}
	m.PutStr(AttrTenantID, "acme")
	if id, r := TenantOf(m); id != "acme" || r != "" {
		t.Errorf("string: %q %q", id, r)
	}
}

func TestPartition(t *testing.T) {
	pol, err := policy.Parse("test.yaml", []byte("tenants:\n  acme: {}\n  hooli: {status: suspended}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, want, reason string }{
		{"acme", "acme", ""},
		{"hooli", "", ReasonSuspended},
		{"globex", "", ReasonUnknown},
		{"_quarantine", "_quarantine", ""},
		{"_governance", "_governance", ""},
		{"../x", "", ReasonInvalid},
	} {
		m := pcommon.NewMap()
		m.PutStr(AttrTenantID, c.id)
		if id, r := Partition(pol, m); id != c.want || r != c.reason {
			t.Errorf("%s: Partition = %q, %q; want %q, %q", c.id, id, r, c.want, c.reason)
		}
	}
	if id, r := Partition(pol, repeated(t, "globex", "acme")); id != "" || r != ReasonMalformed {
		t.Errorf("repeated: %q %q", id, r)
	}
}

func TestQuarantineKeepsEveryClaim(t *testing.T) {
	m := repeated(t, "globex", "acme")
	Quarantine(m, ReasonMalformed)
	if id, r := TenantOf(m); id != policy.Quarantine || r != "" {
		t.Fatalf("after Quarantine: %q %q", id, r)
	}
	if v, _ := m.Get(AttrClaimed); v.Str() != "globex,acme" {
		t.Errorf("claimed = %q", v.Str())
	}
	if v, _ := m.Get(AttrQuarantineReason); v.Str() != ReasonMalformed {
		t.Errorf("reason = %q", v.Str())
	}
}

func TestStripClientKeysAtEveryDepth(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("tenant.redaction.note", "globex ak_globex_999")
	m.PutStr("keep", "x")
	inner := m.PutEmptyMap("nested")
	inner.PutStr("tenant.id", "globex")
	inner.PutStr("ok", "y")
	sl := m.PutEmptySlice("list")
	deep := sl.AppendEmpty().SetEmptyMap()
	deep.PutEmptyMap("more").PutStr("tenant.claimed", "globex")
	if n := StripClientKeys(m); n != 3 {
		t.Errorf("removed %d keys, want 3", n)
	}
	got := m.AsRaw()
	want := map[string]any{"keep": "x", "nested": map[string]any{"ok": "y"}, "list": []any{map[string]any{"more": map[string]any{}}}}
	if len(got) != 3 || got["keep"] != "x" || len(got["nested"].(map[string]any)) != 1 || len(got["list"].([]any)[0].(map[string]any)["more"].(map[string]any)) != 0 {
		t.Errorf("after strip: %v, want %v", got, want)
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	if got := Truncate("aé", 2); got != "a" {
		t.Errorf("Truncate = %q", got)
	}
}
