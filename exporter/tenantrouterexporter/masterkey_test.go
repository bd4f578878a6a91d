package tenantrouterexporter

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// A collector given the wrong master key refuses to start, naming the
// tenants it cannot unwrap, instead of reporting ready and dropping data
// at the first write.
func TestWrongMasterKeyRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	right, err := localstore.ParseKey(strings.Repeat("a7", 32))
	require.NoError(t, err)
	s, err := localstore.Open(dir, right)
	require.NoError(t, err)
	require.NoError(t, s.WriteLogs("acme", logsFor([2]string{"acme", "x"}), "v1"))
	require.NoError(t, s.Close())

	start := func(keyHex string) error {
		t.Setenv(localstore.MasterKeyEnv, keyHex)
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir}}
		require.NoError(t, cfg.Validate())
		f := NewFactory()
		l, err := f.CreateLogs(t.Context(), exportertest.NewNopSettings(f.Type()), cfg)
		require.NoError(t, err)
		err = l.Start(t.Context(), hostWith(t, "tenants:\n  acme: {}\n", nil))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, l.Shutdown(ctx))
		return err
	}
	err = start(strings.Repeat("b8", 32))
	require.Error(t, err)
	assert.ErrorContains(t, err, "backends.store")
	assert.ErrorContains(t, err, "does not unwrap 1 of 1 tenants")
	assert.ErrorContains(t, err, "tenant acme")
	require.NoError(t, start(strings.Repeat("a7", 32)))
}

// The localstore backend anchors each chain it wrote: the head goes to
// the anchor log and, as a record, to _governance.
func TestAuditChainsAreAnchored(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(localstore.MasterKeyEnv, strings.Repeat("c3", 32))
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir, AnchorInterval: 20 * time.Millisecond}}
	e := startRouter(t, cfg, "tenants:\n  acme: {}\n")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "x"})))
	eventually(t, "acme's chain anchored in the log and in _governance", func() bool {
		b, _ := os.ReadFile(localstore.AnchorLog(dir))
		_, gov := os.Stat(filepath.Join(dir, "_governance", "data.db"))
		return strings.Contains(string(b), `"tenant":"acme"`) && gov == nil
	})
	e.stop(t)

	key, err := localstore.ParseKey(strings.Repeat("c3", 32))
	require.NoError(t, err)
	s, err := localstore.Open(dir, key)
	require.NoError(t, err)
	defer s.Close()
	res, err := s.Query(t.Context(), "_governance", `SELECT json_extract(attrs, '$."audit.anchor.tenant.id"'), json_extract(attrs, '$."audit.anchor.seq"') FROM logs`, localstore.QueryOptions{}, "")
	require.NoError(t, err)
	require.NotEmpty(t, res.Rows)
	assert.Equal(t, "acme", res.Rows[0][0])
	verified, err := s.VerifyAudit("acme")
	require.NoError(t, err)
	b, err := os.ReadFile(localstore.AnchorLog(dir))
	require.NoError(t, err)
	n, err := s.CheckAnchors("acme", verified, bytes.NewReader(b))
	require.NoError(t, err)
	assert.Positive(t, n)
}
