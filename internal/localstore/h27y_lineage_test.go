package localstore

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// FuzzH27yParseLineage (hostile review h27y of b94fdd2): whatever a
// tenant.lineage value holds, parseLineage reads what
// identity.ParseLineage (encoding/json) reads.
func FuzzH27yParseLineage(f *testing.F) {
	for _, s := range []string{
		identity.Lineage{ID: "0123456789abcdef0123456789abcdef", Accepted: 1, Receiver: "r", Auth: "api_key", Client: "127.0.0.1:1", Tenant: "acme", Credential: "k1", Collector: "c", PolicyVersion: "v1"}.Encode(),
		`{"id":"a","accepted_unix_nano":-0}`, `{"id":"a","accepted_unix_nano":-9223372036854775808}`, `{"id":"a","accepted_unix_nano":9223372036854775808}`,
		`{"id":"a","accepted_unix_nano":1,"receiver":"x","receiver":"y"}`, `{"id":"a","accepted_unix_nano":1,"Receiver":"x"}`,
		`{"id":"a","accepted_unix_nano":1,"tenant":"b","upstream":{"id":"c","accepted_unix_nano":2}}`, `{"id":"a","accepted_unix_nano":1} `,
		`{"id":"a","accepted_unix_nano":1}x`, `{"id":"a","accepted_unix_nano":1.0}`, `{"id":"a","accepted_unix_nano":1e2}`,
		`{"id":"a\u0041","accepted_unix_nano":1}`, "{\"id\":\"a\x7f\",\"accepted_unix_nano\":1}", `{"id":"a","accepted_unix_nano":1,"tenant":null}`,
		`{"id":"a","accepted_unix_nano":1,"ıd":"b"}`, `{"id":"","accepted_unix_nano":1}`, `{"id":"a","accepted_unix_nano":01}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, wok := identity.ParseLineage(s)
		got, gok := parseLineage(s)
		require.Equal(t, wok, gok, "%q", s)
		require.Equal(t, want, got, "%q", s)
	})
}
