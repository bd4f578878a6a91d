package tenantkafkareceiver

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

// testPolicy declares the tenants the package's tests send as.
func testPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme: {}\n  globex: {}\n  initech: {}\n"))
	require.NoError(t, err)
	return p
}

// receiverSettings are a nop receiver's, named tenantkafka.
func receiverSettings() receiver.Settings {
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	return set
}

// policyHost is a host whose tenantpolicy extension serves testPolicy.
func policyHost(t *testing.T) component.Host {
	return policytest.NewHost(policy.Static{P: testPolicy(t)}, nil)
}

// Anyone who can write a shared topic chooses its record keys: 3,000 keys
// of well-formed ids the policy does not declare made 3,000 records
// series, and as many entries of the partition's stream set, for the
// process's life (hostile review h28x). They are counted under one
// _undeclared series and kept out of the stream set; their records still
// reach the pipeline, whose tenant processor quarantines them, and a
// declared tenant keeps its own series.
func TestUndeclaredKeysShareOneSeries(t *testing.T) {
	r, s := handler(t, "tenancy.{signal}", false)
	r.policy = policy.Static{P: testPolicy(t)}
	const keys = 3000
	for i := range keys {
		require.True(t, r.handle(t.Context(), &kgo.Record{Topic: "tenancy.logs", Key: fmt.Appendf(nil, "hooli%04d", i), Value: logsMessage(t, [2]string{"x", "m"})}))
	}
	require.True(t, r.handle(t.Context(), &kgo.Record{Topic: "tenancy.logs", Key: []byte("acme"), Value: logsMessage(t, [2]string{"acme", "a"})}))

	series := map[string]int64{}
	r.records.Range(func(k recordsKey, n *atomic.Int64) { series[k.tenant] += n.Load() })
	assert.Equal(t, map[string]int64{undeclaredTenant: keys, "acme": 1}, series)
	var streams int
	r.seenMu.Lock()
	for _, ts := range r.seen {
		streams += len(ts)
	}
	r.seenMu.Unlock()
	assert.Equal(t, 1, streams, "only acme's stream is kept")
	assert.Len(t, s.all(), keys+1, "every record reaches the pipeline")
}

// Outside reserved mode the receiver needs the policy, as the tenant
// processor beside it does; reserved mode (pipeline tenants) does not.
func TestStartNeedsThePolicy(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = []string{"127.0.0.1:1"}
	r, err := newReceiver(cfg, receiverSettings())
	require.NoError(t, err)
	t.Cleanup(r.tb.Shutdown)
	assert.ErrorContains(t, r.Start(t.Context(), policytest.Host{Exts: map[component.ID]component.Component{}}), `extension "tenantpolicy" is not configured`)

	cfg = createDefaultConfig().(*Config)
	cfg.Brokers, cfg.Reserved = []string{"127.0.0.1:1"}, true
	r, err = newReceiver(cfg, receiverSettings())
	require.NoError(t, err)
	t.Cleanup(r.tb.Shutdown)
	require.NoError(t, r.Start(t.Context(), policytest.Host{Exts: map[component.ID]component.Component{}}))
	require.NoError(t, r.Shutdown(t.Context()))
}
