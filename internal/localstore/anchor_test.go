package localstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// anchored writes five batches to acme, anchoring after the third and
// the fifth, and returns the closed store's directory and master key.
func anchored(t *testing.T) (string, []byte) {
	t.Helper()
	s, master := openStore(t)
	for i := range 5 {
		require.NoError(t, s.WriteLogs("acme", logsWith("acme", time.Now(), fmt.Sprint(i)), "v1"))
		if i == 2 || i == 4 {
			as, err := s.Anchors(time.Now())
			require.NoError(t, err)
			require.Len(t, as, 1)
			assert.Equal(t, int64(i+1), as[0].Seq)
			require.NoError(t, s.AppendAnchors(as))
		}
	}
	as, err := s.Anchors(time.Now())
	require.NoError(t, err)
	assert.Empty(t, as, "nothing new to anchor")
	require.NoError(t, s.Close())
	return s.Dir(), master
}

func checkAnchors(t *testing.T, dir string, master []byte) (int, error) {
	t.Helper()
	s, err := Open(dir, master)
	require.NoError(t, err)
	defer s.Close()
	res, err := s.VerifyAudit("acme")
	require.NoError(t, err, "the chain verifies on its own: only the anchors tell")
	b, err := os.ReadFile(AnchorLog(dir))
	require.NoError(t, err)
	return s.CheckAnchors("acme", res, bytes.NewReader(b))
}

func TestAnchorsPassAnIntactChain(t *testing.T) {
	dir, master := anchored(t)
	n, err := checkAnchors(t, dir, master)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func TestAnchorsDetectATruncatedTail(t *testing.T) {
	dir, master := anchored(t)
	// The last two batches, entries and rows, cut away together: the
	// chain and the rows agree, the anchor does not.
	tamperDB(t, dir, master, "acme", `DELETE FROM audit WHERE seq > 3; DELETE FROM log_rows WHERE id > 3`)
	_, err := checkAnchors(t, dir, master)
	var ae *AnchorError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int64(5), ae.Anchor.Seq)
	assert.Contains(t, ae.Reason, "truncated")
}

func TestAnchorsDetectARebuiltChain(t *testing.T) {
	dir, master := anchored(t)
	// Someone with the master key rewrites entry 2 and recomputes every
	// keyed hash after it.
	s, err := Open(dir, master)
	require.NoError(t, err)
	entries, err := s.AuditLog("acme", 0)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	kf, err := readKeyFile(filepath.Join(dir, "acme"), "acme")
	require.NoError(t, err)
	dataKey, err := unwrapKey(master, kf)
	require.NoError(t, err)
	key := chainKey(dataKey)
	forge := func(e *AuditEntry) {
		if e.Seq == 2 {
			e.PolicyVersion = "forged"
		}
	}
	keyed := func(e AuditEntry) string { return e.ComputeKeyedHash(key) }
	tamperDB(t, dir, master, "acme", `DELETE FROM audit WHERE seq >= 2;`+rechain(entries[1:], entries[0].Hash, forge, keyed))
	_, err = checkAnchors(t, dir, master)
	var ae *AnchorError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int64(3), ae.Anchor.Seq)
	assert.Contains(t, ae.Reason, "rebuilt")
}

// The store's own files live in ~store, which no tenant id can name, so
// tenants called like them are tenants like any other.
func TestStoreFilesDoNotTakeTenantNames(t *testing.T) {
	s, key := openStore(t)
	for _, tn := range []string{"keyset.json", "anchors.jsonl", "acme"} {
		require.NoError(t, s.WriteLogs(tn, logsWith(tn, time.Now(), tn), "v1"))
	}
	as, err := s.Anchors(time.Now())
	require.NoError(t, err)
	assert.Len(t, as, 3)
	require.NoError(t, s.AppendAnchors(as))
	tenants, err := s.Tenants()
	require.NoError(t, err)
	assert.Equal(t, []string{"acme", "anchors.jsonl", "keyset.json"}, tenants)
	require.NoError(t, s.Close())
	s2, err := Open(s.Dir(), key)
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s2.CheckKeys())
	assert.Equal(t, [][]any{{"keyset.json"}}, query(t, s2, "keyset.json", "SELECT body FROM logs"))
}

func TestFirstCovering(t *testing.T) {
	anchors := []Anchor{{Seq: 3}, {Seq: 3}, {Seq: 7}, {Seq: 12}}
	for seq, want := range map[int64]int64{1: 3, 3: 3, 4: 7, 12: 12} {
		a, ok := FirstCovering(anchors, seq)
		assert.True(t, ok)
		assert.Equal(t, want, a.Seq, "seq %d", seq)
	}
	_, ok := FirstCovering(anchors, 13)
	assert.False(t, ok, "past the last anchor: not anchored yet")
	_, ok = FirstCovering(nil, 1)
	assert.False(t, ok)
}
