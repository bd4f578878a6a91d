package tenantrouterexporter

import (
	"context"
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
