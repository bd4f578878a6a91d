package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

const testMasterHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// openTestStore opens the store in dir under the test master key.
func openTestStore(t *testing.T, dir string) *localstore.Store {
	t.Helper()
	key, err := localstore.ParseKey(testMasterHex)
	require.NoError(t, err)
	s, err := localstore.Open(dir, key)
	require.NoError(t, err)
	return s
}

// seedStore writes two tenants' logs into a fresh store and returns its
// directory and a master key file.
func seedStore(t *testing.T) (dir, keyFile string) {
	t.Helper()
	dir = t.TempDir()
	keyFile = writeFile(t, "master.key", testMasterHex+"\n")
	s := openTestStore(t, dir)
	now := time.Now()
	for _, tn := range []string{"acme", "globex"} {
		for i, age := range []time.Duration{3 * time.Hour, time.Minute} {
			ld := plog.NewLogs()
			rl := ld.ResourceLogs().AppendEmpty()
			rl.Resource().Attributes().PutStr("tenant.id", tn)
			lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-age)))
			lr.Body().SetStr(fmt.Sprintf("%s-log-%d", tn, i))
			lr.Attributes().PutStr("user", "u,"+tn)
			require.NoError(t, s.WriteLogs(tn, ld, "v1"))
		}
	}
	require.NoError(t, s.Close())
	return dir, keyFile
}

func TestQueryCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	base := []string{"query", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme"}

	code, out, errOut := tenancyctl(t, "", append(base, "SELECT body FROM logs ORDER BY id")...)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "body\nacme-log-0\nacme-log-1\n", out)
	assert.NotContains(t, out, "globex")

	code, out, _ = tenancyctl(t, "", append(base, "--since", "1h", "--format", "json", `SELECT body, json_extract(attrs, '$.user') AS user FROM logs`)...)
	require.Equal(t, 0, code)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	assert.Equal(t, []map[string]any{{"body": "acme-log-1", "user": "u,acme"}}, rows)

	code, out, _ = tenancyctl(t, "", append(base, "--until", time.Now().Add(-time.Hour).Format(time.RFC3339), "--format", "csv", `SELECT body, json_extract(attrs, '$.user') AS user FROM logs`)...)
	require.Equal(t, 0, code)
	assert.Equal(t, "body,user\nacme-log-0,\"u,acme\"\n", out)

	// The master key from the environment works too.
	t.Setenv(localstore.MasterKeyEnv, testMasterHex)
	code, out, _ = tenancyctl(t, "", "query", "--data", dir, "--tenant", "globex", "SELECT count(*) AS n FROM logs")
	require.Equal(t, 0, code)
	assert.Equal(t, "n\n2\n", out)

	// Writes are refused, and nothing changed.
	for _, bad := range []string{"DELETE FROM logs", "DELETE FROM log_rows", "UPDATE resources SET json = '{}'", "UPDATE audit SET kind='x'", "SELECT 1; DROP TABLE logs", "ATTACH DATABASE 'x' AS y"} {
		code, _, errOut = tenancyctl(t, "", append(base, bad)...)
		assert.Equal(t, 1, code, bad)
		assert.NotEmpty(t, errOut)
	}
	code, out, _ = tenancyctl(t, "", append(base, "SELECT count(*) AS n FROM logs")...)
	require.Equal(t, 0, code)
	assert.Equal(t, "n\n2\n", out)

	// Every query is in the tenant's audit log, with who ran it.
	code, out, _ = tenancyctl(t, "", append(base, "--format", "csv", `SELECT json_extract(detail, '$.sql') AS q, json_extract(detail, '$.actor') LIKE 'tenancyctl:%' AS by_ctl FROM audit WHERE kind = 'query' ORDER BY seq LIMIT 2`)...)
	require.Equal(t, 0, code)
	assert.Equal(t, "q,by_ctl\nSELECT body FROM logs ORDER BY id,1\n\"SELECT body, json_extract(attrs, '$.user') AS user FROM logs\",1\n", out)

	// Usage errors.
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "SELECT 1")
	assert.Equal(t, 2, code, "no tenant")
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--tenant", "../acme", "SELECT 1")
	assert.Equal(t, 2, code, "bad tenant id")
	code, _, _ = tenancyctl(t, "", append(base, "--format", "xml", "SELECT 1")...)
	assert.Equal(t, 2, code)
	code, _, errOut = tenancyctl(t, "", "query", "--data", dir, "--tenant", "nobody", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no data")
}

func TestQueryWithWrongMasterKey(t *testing.T) {
	dir, _ := seedStore(t)
	other := writeFile(t, "other.key", strings.Repeat("9", 64))
	code, _, errOut := tenancyctl(t, "", "query", "--data", dir, "--master-key-file", other, "--tenant", "acme", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "wrapped by master key")
	t.Setenv(localstore.MasterKeyEnv, "")
	code, _, errOut = tenancyctl(t, "", "query", "--data", dir, "--tenant", "acme", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, localstore.MasterKeyEnv)
}

func TestAuditVerifyCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	code, out, errOut := tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme")
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^acme: audit log verified, 2 entries, 2 data rows accounted for, head seq 2 hash k1:[0-9a-f]{64}\n$`, out)

	tamperAudit(t, dir, "acme", `UPDATE audit SET policy_version = 'forged' WHERE seq = 2`)
	code, out, _ = tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme")
	assert.Equal(t, 1, code)
	assert.Equal(t, "acme: audit log BROKEN at seq 2: hash does not match the entry's content (1 entries verified before it)\n", out)

	code, _, _ = tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex")
	assert.Equal(t, 0, code, "another tenant's chain is its own")

	// A data row edited, or the whole chain emptied, by someone holding
	// the key is caught.
	tamperAudit(t, dir, "globex", `UPDATE log_rows SET body = 'forged' WHERE id = 1`)
	code, out, _ = tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "globex: data rows do NOT match the audit log: table logs")
	tamperAudit(t, dir, "globex", `DELETE FROM audit`)
	code, out, _ = tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "the audit chain is empty but the table holds 2 rows")
	code, _, _ = tenancyctl(t, "", "audit", "--data", dir)
	assert.Equal(t, 2, code)
}

// tamperAudit edits a tenant's audit table as someone holding its key
// would: dropping the append-only triggers first.
func tamperAudit(t *testing.T, dir, tenant, sql string) {
	t.Helper()
	master, err := localstore.ParseKey(testMasterHex)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, tenant, "data.key"))
	require.NoError(t, err)
	var kf struct {
		Nonce      []byte `json:"nonce"`
		WrappedKey []byte `json:"wrapped_key"`
	}
	require.NoError(t, json.Unmarshal(b, &kf))
	block, err := aes.NewCipher(master)
	require.NoError(t, err)
	gcm, err := cipher.NewGCM(block)
	require.NoError(t, err)
	dataKey, err := gcm.Open(nil, kf.Nonce, kf.WrappedKey, []byte("tenancy-localstore-data-key:v1:"+tenant))
	require.NoError(t, err)
	conn, err := sqlite3.Open("file:" + filepath.Join(dir, tenant, "data.db") + "?vfs=adiantum&hexkey=" + hex.EncodeToString(dataKey))
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Exec("DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; "+sql))
}

func TestKeysRotateCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	newHex := strings.Repeat("ab", 32)
	newFile := writeFile(t, "new.key", newHex)
	code, out, errOut := tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--new-master-key-file", newFile)
	require.Equal(t, 0, code, errOut)
	newKey, _ := localstore.ParseKey(newHex)
	oldKey, _ := localstore.ParseKey(testMasterHex)
	assert.Equal(t, fmt.Sprintf("re-wrapped acme's data key: master key %s -> %s\n", localstore.KeyID(oldKey), localstore.KeyID(newKey)), out)

	// acme now opens with the new key only; globex still with the old one.
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", newFile, "--tenant", "acme", "SELECT 1")
	assert.Equal(t, 0, code)
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "SELECT 1")
	assert.Equal(t, 1, code)
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex", "SELECT 1")
	assert.Equal(t, 0, code)

	// A mistyped tenant is refused and not created.
	code, _, errOut = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile, "--tenant", "acmeee", "--new-master-key-file", newFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "acmeee")
	_, err := os.Stat(filepath.Join(dir, "acmeee"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Every tenant, all or nothing: once globex's key is wrapped by a third
	// master key, the run names it and changes nothing.
	thirdHex := strings.Repeat("cd", 32)
	code, _, errOut = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex", "--new-master-key-file", writeFile(t, "third.key", thirdHex))
	require.Equal(t, 0, code, errOut)
	globexKey, err := os.ReadFile(filepath.Join(dir, "globex", "data.key"))
	require.NoError(t, err)
	t.Setenv(NewMasterKeyEnv, newHex)
	code, _, errOut = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "tenant globex")
	assert.Contains(t, errOut, "nothing was changed")
	after, err := os.ReadFile(filepath.Join(dir, "globex", "data.key"))
	require.NoError(t, err)
	assert.Equal(t, string(globexKey), string(after))

	// Put globex back on the old key; the rerun moves it and keeps acme,
	// already on the new key.
	code, _, errOut = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", writeFile(t, "third2.key", thirdHex), "--tenant", "globex", "--new-master-key-file", keyFile)
	require.Equal(t, 0, code, errOut)
	code, _, errOut = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile)
	require.Equal(t, 0, code, errOut)
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", newFile, "--tenant", "globex", "SELECT 1")
	assert.Equal(t, 0, code)
	code, out, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", newFile, "--tenant", "globex", "--format", "csv", "SELECT kind FROM audit WHERE kind = 'key_rotation'")
	require.Equal(t, 0, code)
	assert.Equal(t, "kind\nkey_rotation\nkey_rotation\nkey_rotation\n", out)

	code, _, _ = tenancyctl(t, "", "keys", "rotate", "--data", dir, "--master-key-file", keyFile, "--new-master-key-file", writeFile(t, "short.key", "abc"))
	assert.Equal(t, 2, code)
}

func TestTenantShredCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	args := []string{"tenant", "shred", "--data", dir, "--master-key-file", keyFile, "--reason", "contract ended", "acme"}
	code, _, errOut := tenancyctl(t, "globex\n", args...)
	assert.Equal(t, 1, code, "confirmation must name the tenant")
	assert.Contains(t, errOut, "not confirmed")
	_, err := os.Stat(filepath.Join(dir, "acme", "data.key"))
	require.NoError(t, err)

	code, out, errOut := tenancyctl(t, "acme\n", args...)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^acme shredded at \S+; last audit entry seq 3 hash k1:[0-9a-f]{64}\n$`, out)
	_, err = os.Stat(filepath.Join(dir, "acme", "data.key"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	b, err := os.ReadFile(filepath.Join(dir, "acme", "SHREDDED.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "contract ended")

	code, _, errOut = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "SELECT 1")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "shredded")
	code, _, errOut = tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "crypto-shredded")
	code, _, _ = tenancyctl(t, "", "query", "--data", dir, "--master-key-file", keyFile, "--tenant", "globex", "SELECT 1")
	assert.Equal(t, 0, code, "globex is untouched")

	code, _, _ = tenancyctl(t, "", "tenant", "shred", "--data", dir, "--yes", "a/b")
	assert.Equal(t, 2, code)

	// A typo is refused and creates nothing; the real tenant is untouched.
	code, _, errOut = tenancyctl(t, "", "tenant", "shred", "--data", dir, "--master-key-file", keyFile, "--yes", "globexx")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "globexx")
	_, err = os.Stat(filepath.Join(dir, "globexx"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Clearing the tombstone lets acme's id take data again, afresh.
	code, _, errOut = tenancyctl(t, "", "tenant", "clear", "--data", dir, "--master-key-file", keyFile, "globex")
	assert.Equal(t, 1, code, "globex is not shredded")
	assert.Contains(t, errOut, "not shredded")
	code, out, errOut = tenancyctl(t, "", "tenant", "clear", "--data", dir, "--master-key-file", keyFile, "acme")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "tombstone")
	kept, err := filepath.Glob(filepath.Join(dir, "acme", "SHREDDED-*.json"))
	require.NoError(t, err)
	assert.Len(t, kept, 1)
	_, err = os.Stat(filepath.Join(dir, "acme", "data.db"))
	assert.ErrorIs(t, err, os.ErrNotExist, "the unreadable database is gone")
}

func TestTenantsCommand(t *testing.T) {
	dir, keyFile := seedStore(t)
	key, err := localstore.ParseKey(testMasterHex)
	require.NoError(t, err)
	keyID := localstore.KeyID(key)

	code, out, errOut := tenancyctl(t, "", "tenants", "--data", dir, "--master-key-file", keyFile, "--format", "json")
	require.Equal(t, 0, code, errOut)
	var infos []localstore.TenantInfo
	infos = nil // Unmarshal would keep fields the JSON omits
	require.NoError(t, json.Unmarshal([]byte(out), &infos))
	require.Len(t, infos, 2)
	for i, tn := range []string{"acme", "globex"} {
		in := infos[i]
		assert.Equal(t, tn, in.Tenant)
		assert.EqualValues(t, 2, in.Records)
		assert.Equal(t, keyID, in.MasterKeyID)
		assert.Empty(t, in.Unreadable)
		assert.Greater(t, in.Bytes, int64(4096), "database and key file")
		assert.WithinDuration(t, time.Now().Add(-3*time.Hour), in.Oldest, 5*time.Minute)
		assert.WithinDuration(t, time.Now().Add(-time.Minute), in.Newest, 5*time.Minute)
	}

	code, out, _ = tenancyctl(t, "", "tenants", "--data", dir, "--master-key-file", keyFile)
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	assert.Regexp(t, `^TENANT\s+BYTES\s+RECORDS\s+OLDEST\s+NEWEST\s+MASTER KEY ID`, lines[0])
	assert.Regexp(t, `^acme\s+\d+\s+2\s+\S+T\S+\s+\S+T\S+\s+`+keyID, lines[1])

	// Without a master key: sizes and key ids, no records read.
	code, out, errOut = tenancyctl(t, "", "tenants", "--data", dir, "--format", "json")
	require.Equal(t, 0, code, errOut)
	infos = nil // Unmarshal would keep fields the JSON omits
	require.NoError(t, json.Unmarshal([]byte(out), &infos))
	assert.Equal(t, keyID, infos[0].MasterKeyID)
	assert.Zero(t, infos[0].Records)
	assert.Equal(t, "no master key given", infos[0].Unreadable)

	// Another master key cannot open them; a shredded tenant says so.
	other := writeFile(t, "other.key", strings.Repeat("ab", 32))
	code, out, _ = tenancyctl(t, "", "tenants", "--data", dir, "--master-key-file", other, "--format", "json")
	require.Equal(t, 0, code)
	infos = nil // Unmarshal would keep fields the JSON omits
	require.NoError(t, json.Unmarshal([]byte(out), &infos))
	assert.Contains(t, infos[0].Unreadable, "not by the given key")
	code, _, errOut = tenancyctl(t, "", "tenant", "shred", "--data", dir, "--master-key-file", keyFile, "--yes", "globex")
	require.Equal(t, 0, code, errOut)
	code, out, _ = tenancyctl(t, "", "tenants", "--data", dir, "--master-key-file", keyFile, "--format", "json")
	require.Equal(t, 0, code)
	infos = nil // Unmarshal would keep fields the JSON omits
	require.NoError(t, json.Unmarshal([]byte(out), &infos))
	assert.True(t, infos[1].Shredded)
	assert.Empty(t, infos[1].MasterKeyID)
	assert.EqualValues(t, 2, infos[0].Records, "acme untouched")

	code, _, errOut = tenancyctl(t, "", "tenants", "--data", filepath.Join(dir, "missing"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")
}

func TestAuditVerifyAgainstAnchors(t *testing.T) {
	dir, keyFile := seedStore(t)
	s := openTestStore(t, dir)
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("third")
	require.NoError(t, s.WriteLogs("acme", ld, "v1"))
	anchors, err := s.Anchors(time.Now())
	require.NoError(t, err)
	require.NoError(t, s.AppendAnchors(anchors))
	require.NoError(t, s.Close())
	copied := writeFile(t, "anchors-copy.jsonl", string(must(os.ReadFile(localstore.AnchorLog(dir)))))

	code, out, errOut := tenancyctl(t, "", "audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme", "--anchors", copied)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "acme: audit log contains all 1 anchors of this chain in "+copied)

	// The last batch cut away, entry and row together: the chain and the
	// rows agree, the anchor does not; the store's own log is read too.
	tamperAudit(t, dir, "acme", `DELETE FROM audit WHERE seq = 3; DELETE FROM log_rows WHERE id = 3`)
	for _, args := range [][]string{{"--anchors", copied}, nil} {
		code, out, _ = tenancyctl(t, "", append([]string{"audit", "verify", "--data", dir, "--master-key-file", keyFile, "--tenant", "acme"}, args...)...)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "the chain ends at seq 2: its tail was truncated")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestKeysRotateDataKeys(t *testing.T) {
	dir, keyFile := seedStore(t)
	store := []string{"--data", dir, "--master-key-file", keyFile}
	read := func(tenant string) string {
		code, out, errOut := tenancyctl(t, "", append([]string{"query", "--tenant", tenant}, append(store, "SELECT body FROM logs ORDER BY id")...)...)
		require.Equal(t, 0, code, errOut)
		return out
	}
	keyFileOf := func(tenant string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, tenant, "data.key"))
		require.NoError(t, err)
		return b
	}
	before, globexKey := read("acme"), keyFileOf("globex")

	code, out, errOut := tenancyctl(t, "", append([]string{"keys", "rotate", "--data-keys", "--tenant", "acme"}, store...)...)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `^\[1/1\] acme: data key [0-9a-f]{16} -> [0-9a-f]{16} \(`, out)
	assert.Equal(t, globexKey, keyFileOf("globex"), "only acme")
	assert.Equal(t, before, read("acme"))
	code, _, errOut = tenancyctl(t, "", append([]string{"audit", "verify", "--tenant", "acme"}, store...)...)
	require.Equal(t, 0, code, errOut)

	// Every tenant, with a progress line each; a shredded one is skipped.
	code, _, errOut = tenancyctl(t, "", append(append([]string{"tenant", "shred", "--yes"}, store...), "globex")...)
	require.Equal(t, 0, code, errOut)
	code, out, errOut = tenancyctl(t, "", append([]string{"keys", "rotate", "--data-keys"}, store...)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "[1/2] acme: data key ")
	assert.Contains(t, out, "[2/2] globex: skipped")
	assert.Equal(t, before, read("acme"))

	code, _, errOut = tenancyctl(t, "", append([]string{"keys", "rotate", "--data-keys", "--tenant", "acmee"}, store...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "acmee")
	_, err := os.Stat(filepath.Join(dir, "acmee"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	code, _, _ = tenancyctl(t, "", append([]string{"keys", "rotate", "--data-keys", "--new-master-key-file", keyFile}, store...)...)
	assert.Equal(t, 2, code)
}
