package tenantrouterexporter

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

// readSink is a policy extension that takes store reads, as the
// tenantpolicy extension does.
type readSink struct {
	component.StartFunc
	component.ShutdownFunc
	policy.Static
	mu     sync.Mutex
	reads  map[string]uint64
	actors map[string][]string
}

func (s *readSink) CountStoreReads(tenant string, n uint64, actors []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads[tenant] += n
	s.actors[tenant] = append(s.actors[tenant], actors...)
}

func (s *readSink) of(tenant string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[tenant]
}

// Queries another process runs on a tenant's store reach the policy
// extension as the tenant's store reads; the router's own writes and a
// tenant nobody queried count nothing.
func TestStoreReadsReachThePolicyExtension(t *testing.T) {
	dir := t.TempDir()
	const master = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4"
	t.Setenv(localstore.MasterKeyEnv, master)
	const tenants = "tenants:\n  acme: {}\n  globex: {}\n"
	p, err := policy.Parse("tenants.yaml", []byte(tenants))
	require.NoError(t, err)
	sink := &readSink{Static: policy.Static{P: p}, reads: map[string]uint64{}, actors: map[string][]string{}}
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir, AnchorInterval: 20 * time.Millisecond}}
	e := startRouterWith(t, cfg, tenants, map[component.ID]component.Component{policytest.ExtensionID: sink})
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"acme", "a"}, [2]string{"globex", "g"})))
	key, err := localstore.ParseKey(master)
	require.NoError(t, err)
	ctl, err := localstore.Open(dir, key)
	require.NoError(t, err)
	defer ctl.Close()
	eventually(t, "both tenants stored", func() bool {
		a, errA := ctl.VerifyAudit("acme") // not a read: verifying writes no entry
		g, errG := ctl.VerifyAudit("globex")
		return errA == nil && errG == nil && a.Entries > 0 && g.Entries > 0
	})
	for range 4 {
		_, err := ctl.Query(t.Context(), "acme", "SELECT count(*) FROM logs", localstore.QueryOptions{Actor: "ctl"}, "")
		require.NoError(t, err)
	}
	eventually(t, "acme's four queries counted", func() bool { return sink.of("acme") == 4 })
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), logsFor([2]string{"globex", "h"})))
	time.Sleep(100 * time.Millisecond) // several looks
	assert.Equal(t, uint64(4), sink.of("acme"), "counted once")
	assert.Zero(t, sink.of("globex"), "the router's own writes are no reads")
	sink.mu.Lock()
	defer sink.mu.Unlock()
	assert.Equal(t, "ctl", sink.actors["acme"][0], "who read is passed on")
}
