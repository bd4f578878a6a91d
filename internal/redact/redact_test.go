package redact

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func testPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/policy.yaml")
	require.NoError(t, err)
	p, err := policy.Parse("testdata/policy.yaml", data)
	require.NoError(t, err)
	return p
}

func testOptions() Options {
	return Options{HashKeys: map[string][]byte{"k1": []byte("test-secret-k1")}, ActiveHashKey: "k1"}
}

func testRedactor(t testing.TB) *Redactor {
	t.Helper()
	r, err := New(testPolicy(t), testOptions())
	require.NoError(t, err)
	return r
}

// redactFor runs the string redaction of one tenant's record.
func redactFor(r *Redactor, owner, s string) (string, [numClasses]int32) {
	ps := r.newPass()
	ps.ru = r.rulesFor(owner)
	out, _, _ := ps.str(s)
	return out, ps.counts
}

func TestForeignIdentifiers(t *testing.T) {
	r := testRedactor(t)
	const F = "<redacted:foreign_tenant>"
	tests := []struct{ owner, in, want string }{
		{"acme", "mail bob@globex.example now", "mail " + F + " now"},
		{"acme", "mail BOB@GLOBEX.EXAMPLE.", "mail " + F + "."},
		{"acme", "key ak_globex_9f8e7d6c5b4a used", "key " + F + " used"},
		{"acme", "GET https://api.globex.example:8443/v1/users", "GET https://" + F + ":8443/v1/users"},
		{"acme", "the hooligan was here", "the hooligan was here"},
		{"acme", "hooli-prod failed", F + " failed"},
		{"acme", "own acme.example and ak_acme_123 stay", "own acme.example and ak_acme_123 stay"},
		{"acme", "q=bob%40globex.example&x=1", "q=" + F + "&x=1"},
		{"acme", `{"u":"bob\u0040globex.example"}`, `{"u":"` + F + `"}`},
		{"acme", `https:\/\/globex.example\/x`, `https:\/\/` + F + `\/x`},
		{"acme", "customer CN-2002-77812 called", "customer " + F + " called"},
		{"acme", "customer CN-1001-77812 called", "customer CN-1001-77812 called"},
		{"globex", "acme and initech", F + " and " + F},
		{"", "acme and globex", F + " and " + F},
		{"_quarantine", "acme.example", F},
	}
	for _, tc := range tests {
		got, _ := redactFor(r, tc.owner, tc.in)
		assert.Equal(t, tc.want, got, "owner %q input %q", tc.owner, tc.in)
	}
}

func TestClasses(t *testing.T) {
	r := testRedactor(t)
	tests := []struct{ name, in, want string }{
		{"card", "paid with 4111 1111 1111 1111 ok", "paid with <redacted:credit_card> ok"},
		{"card bad luhn", "order 4111 1111 1111 1112", "order 4111 1111 1111 1112"},
		{"iban", "to GB82 WEST 1234 5698 7654 32 today", "to <redacted:iban> today"},
		{"iban bad", "to GB83WEST12345698765432 today", "to GB83WEST12345698765432 today"},
		{"ssn", "ssn 123-45-6789.", "ssn ."},
		{"ssn invalid", "ssn 666-45-6789 and 123-00-6789", "ssn 666-45-6789 and 123-00-6789"},
		{"ipv6", "from 2001:db8::1 at 12:30:45", "from <redacted:ipv6> at 12:30:45"},
		{"phone", "call +44 20 7946 0958", "call <redacted:phone>"},
		// A phone word before, or a label after, lets local numbers and
		// ungrouped national ones count.
		{"phone local under a label", "Phone:\n467 3395\n", "Phone:\n<redacted:phone>\n"},
		{"phone two groups after call", "call me on 9472 7916?", "call me on <redacted:phone>?"},
		{"phone bare national after fax", "Fax: 9498777106", "Fax: <redacted:phone>"},
		{"phone dash label", "082 490 1693-Office, +41 (0)69 979 80 58-Fax", "<redacted:phone>-Office, <redacted:phone>-Fax"},
		{"phone space label", "781 1704 office", "<redacted:phone> office"},
		// Without a phone word they are house numbers, ids and durations.
		{"phone local without context", "order 467 3395 shipped", "order 467 3395 shipped"},
		{"phone bare after call", "rpc call id 1234567 took 5ms", "rpc call id 1234567 took 5ms"},
		{"phone bare ten without context", "batch 9498777106 done", "batch 9498777106 done"},
		{"phone word then other digits", "phone 3 of 12, id 4673395", "phone 3 of 12, id 4673395"},
		{"phone dash not a label", "v 082 490 1693-beta", "v 082 490 1693-beta"},
		{"jwt", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "tok <redacted:jwt>"},
		{"jwt alg none", "tok eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", "tok <redacted:jwt>"},
		// {"foo":"bar"} names no alg: base64 of JSON, not a token.
		{"jwt header without alg", "tok eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2ln", "tok eyJmb28iOiJiYXIifQ.eyJzdWIiOiIxIn0.c2ln"},
		{"jwt header not json", "v eyJhbGciOi.eyJzdWIiOiIxIn0.c2ln", "v eyJhbGciOi.eyJzdWIiOiIxIn0.c2ln"},
		// Five parts are a JWE's shape, not a signed token's three.
		{"jwt four parts", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE.dGFn", "tok eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln.ZXh0cmE.dGFn"},
		{"bearer", "Authorization: Bearer abcdef123456789", "Authorization: Bearer <redacted:auth_header>"},
		{"url password", "dial postgres://app:s3cr3tpw@db:5432/x", "dial postgres://app:<redacted:url_password>@db:5432/x"},
		{"secret pair", `password=hunter22 user=x`, `password=<redacted:secret_pair> user=x`},
		{"secret json", `{"password":"hunter22"}`, `{"password":"<redacted:secret_pair>"}`},
		{"pem", "k=-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- end", "k= end"},
		{"aws", "id AKIAIOSFODNN7EXAMPLE", "id <redacted:aws_key>"},
		{"github", "ghp_" + strings.Repeat("a1B2", 9), "<redacted:github_token>"},
		{"slack", "xoxb-123456789012-1234567890123-abcdefghij", "<redacted:slack_token>"},
		{"stripe", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "<redacted:stripe_key>"},
		{"google", "AIzaSyA-1234567890abcdefghijklmnopqrstu", "<redacted:google_api_key>"},
		{"plain", "nothing to see 12:30", "nothing to see 12:30"},
		// A quoted value is the whole quoted string, punctuation and all.
		{"quoted salt", `define('NONCE_KEY', '}Fi>>0a{> akEdJ1K3c}([(:x;K');`, `define('NONCE_KEY', '<redacted:secret_pair>');`},
		{"quoted spaces", `password="correct horse battery"`, `password="<redacted:secret_pair>"`},
		{"space quoted", `password "hunter22"`, `password "<redacted:secret_pair>"`},
		{"space prose", `password reset for "bob"`, `password reset for "bob"`},
		{"markup", `<Pass encoding="base64">aHVudGVyMjI=</Pass>`, `<Pass encoding="base64"><redacted:secret_pair></Pass>`},
		{"key file path", `ssh_key_path: "~/.ssh/deploy.pem"`, `ssh_key_path: "~/.ssh/deploy.pem"`},
		{"call argument", `conn.query('SELECT Id FROM User', function(err) {`, `conn.query('SELECT Id FROM User', function(err) {`},
		{"apr1", `admin:$apr1$tp8glkbm$fjg65tI1eipoBh62aEjIy0`, `admin:<redacted:secret_pair>`},
		{"sha512crypt", `ubuntu:$6$LnUhhUi45srUKt9i$4Hp6VRTOB2mxvsYH8mwsCfBryg6hCbm4JJjV26KplN8ewZ7EUVqQDkLKDW.O8XRHx.B76JkwXtyD3wnAXEuZN1:0:99999`, `ubuntu:<redacted:secret_pair>:0:99999`},
		{"pgpass", `db.internal:5432:main:app:s3cr3t!`, `db.internal:5432:main:app:<redacted:secret_pair>`},
		{"pgpass header", `#hostname:port:database:username:password`, `#hostname:port:database:username:password`},
		{"not pgpass", `fe80:1:2:3:4`, `fe80:1:2:3:4`},
		{"shadow not ipv6", `root::17431:0:99999:7:::`, `root::17431:0:99999:7:::`},
		{"username", `DB_USERNAME=root`, `DB_USERNAME=<redacted:username>`},
		{"username json", `"sshUserName" : "deploy"`, `"sshUserName" : "<redacted:username>"`},
		{"username yaml", `- user: octocat`, `- user: <redacted:username>`},
		{"username xml", `<User>root</User>`, `<User><redacted:username></User>`},
		{"username prose", `not to distract the user: the focus is on`, `not to distract the user: the focus is on`},
		{"username not a number", `"user": 1000, "last_login": "2024-01-02T03:04:05Z"`, `"user": 1000, "last_login": "2024-01-02T03:04:05Z"`},
		{"endpoint", `RDS_HOST='fake-rds.us-west-1.rds.amazonaws.com'`, `RDS_HOST='<redacted:endpoint>'`},
		{"endpoint pairs", `host: db1 database: main`, `host: <redacted:endpoint> database: <redacted:endpoint>`},
		{"endpoint not host:port", `title user@host:dir`, `title user@host:dir`},
		{"endpoint boolean", `"ignorehost": true`, `"ignorehost": true`},
	}
	for _, tc := range tests {
		got, _ := redactFor(r, "acme", tc.in)
		assert.Equal(t, tc.want, got, tc.name)
	}
	got, _ := redactFor(r, "acme", "mail bob@example.org")
	assert.Regexp(t, `^mail <hash:k1:[0-9a-f]{32}>$`, got)
	got2, _ := redactFor(r, "acme", "mail bob@example.org")
	assert.Equal(t, got, got2, "hash is stable")
	// globex keeps e-mails; other tenants' keys differ.
	got, _ = redactFor(r, "globex", "mail bob@example.org")
	assert.Equal(t, "mail bob@example.org", got)
	// username and endpoint are opt-in: globex does not name them.
	got, _ = redactFor(r, "globex", "DB_USERNAME=root DB_HOST=db1.internal")
	assert.Equal(t, "DB_USERNAME=root DB_HOST=db1.internal", got)
	// hooli has no classes; defaults do not apply to declared tenants
	// without their own setting? They do: defaults block is merged.
	got, _ = redactFor(r, "hooli", "id AKIAIOSFODNN7EXAMPLE")
	assert.Equal(t, "id <redacted:aws_key>", got)
}

func TestNewNeedsHashKey(t *testing.T) {
	_, err := New(testPolicy(t), Options{})
	require.ErrorContains(t, err, "active_hash_key")
	_, err = New(testPolicy(t), Options{ActiveHashKey: "nope"})
	require.ErrorContains(t, err, "nope")
}

// TestAttributesRemovedByPosition: the attributes that go (keyed by another
// tenant's identifier, or wholly a class the tenant removes) are removed,
// several in one map and in a nested one, and every other attribute stays,
// in order, redacted where it should be.
func TestAttributesRemovedByPosition(t *testing.T) {
	r := testRedactor(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	a := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Attributes()
	a.PutStr("globex.note", "a")
	a.PutStr("keep.first", "plain")
	a.PutStr("ssn", "123-45-6789")
	nested := a.PutEmptyMap("nested")
	nested.PutStr("inner.keep", "x")
	nested.PutStr("ak_globex_key", "y")
	nested.PutStr("inner.last", "mail bob@globex.example")
	a.PutStr("keep.mid", "still here")
	a.PutStr("x.globex.example", "b")
	a.PutStr("keep.last", "done")
	r.Logs(ld)
	var keys []string
	for k := range a.All() {
		keys = append(keys, k)
	}
	assert.Equal(t, []string{"keep.first", "nested", "keep.mid", "keep.last", AttrClasses}, keys)
	var inner []string
	for k, v := range nested.All() {
		inner = append(inner, k+"="+v.Str())
	}
	assert.Equal(t, []string{"inner.keep=x", "inner.last=mail <redacted:foreign_tenant>"}, inner)
	cls, _ := a.Get(AttrClasses)
	assert.Equal(t, []any{"email", "foreign_tenant", "us_ssn"}, cls.Slice().AsRaw())
	res := rl.Resource().Attributes()
	cnt, _ := res.Get(AttrCount)
	assert.EqualValues(t, 6, cnt.Int(), "three foreign keys, an SSN, and an address at a foreign domain (both classes)")
	recs, _ := res.Get(AttrRecords)
	assert.EqualValues(t, 1, recs.Int())
	rcls, _ := res.Get(AttrClasses)
	assert.Equal(t, []any{"email", "foreign_tenant", "us_ssn"}, rcls.Slice().AsRaw())
	ver, _ := res.Get(AttrPolicyVersion)
	assert.Equal(t, r.version, ver.Str())
}
