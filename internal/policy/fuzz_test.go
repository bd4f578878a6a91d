package policy

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"tenants: {}\n",
		"defaults: {status: active}\ntenants:\n  acme: {identifiers: [acme, acme.example]}\n",
		"tenants:\n  acme:\n    api_keys: [\"sha256:" + strings.Repeat("ab", 32) + "\"]\n",
		"tenants:\n  acme: &a {status: active}\n  globex: *a\n",
		"tenants:\n  acme: {retention: {logs: 30d}, limits: {max_request_bytes: 1MiB}, anomaly: {sensitivity: 0.3}}\n",
		"tenants: [\n",
		"- a\n",
		"tenants:\n  \"..\": {}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			verr, ok := err.(*ValidationError)
			if !ok || len(verr.Problems) == 0 {
				t.Fatalf("error is not a ValidationError with problems: %v", err)
			}
			for _, pr := range verr.Problems {
				if pr.Line < 0 || pr.File != "fuzz.yaml" || pr.Key == "" {
					t.Fatalf("problem without a location: %+v", pr)
				}
			}
			return
		}
		// Whatever parses keeps the guarantees the pipeline relies on.
		seen := map[string]string{}
		for _, id := range p.TenantIDs() {
			if ValidateTenantID(id) != nil || IsReserved(id) {
				t.Fatalf("accepted bad tenant id %q", id)
			}
			tn, _ := p.Tenant(id)
			for _, ident := range tn.Identifiers {
				low := strings.ToLower(ident)
				if owner, dup := seen[low]; dup && owner != id {
					t.Fatalf("identifier %q owned by %q and %q", ident, owner, id)
				}
				seen[low] = id
			}
		}
	})
}

func FuzzValidateTenantID(f *testing.F) {
	for _, seed := range []string{"acme", ".", "..", "a/b", "a b", "café", strings.Repeat("a", 151), "_quarantine", "a\x00b", "(x)*'!"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateTenantID(id)
		// An accepted id is safe as a header value and a directory name.
		if err == nil {
			if id == "" || id == "." || id == ".." || len(id) > MaxTenantIDLength {
				t.Fatalf("accepted %q", id)
			}
			if strings.ContainsAny(id, "/\\ \t\r\n\x00:;,\"") {
				t.Fatalf("accepted %q with a separator", id)
			}
			for _, r := range id {
				if r > 0x7e {
					t.Fatalf("accepted non-ASCII %q", id)
				}
			}
		}
	})
}
