package tenantkafkareceiver

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// h28yPolicy is a provider whose policy a test swaps, as a reload does.
type h28yPolicy struct{ p atomic.Pointer[policy.Policy] }

func (h *h28yPolicy) Policy() *policy.Policy { return h.p.Load() }

func (h *h28yPolicy) set(t *testing.T, yaml string) {
	t.Helper()
	p, err := policy.Parse("tenants.yaml", []byte(yaml))
	require.NoError(t, err)
	h.p.Store(p)
}

// Guard from hostile review h28y of b04ebbc (nothing broken): the policy
// is read per record, so a reload moves a tenant between its own series
// and _undeclared both ways; a tenant the reload removed keeps the stream
// it already had on the partition, so the revoke still hands over the
// state learnt for it, and a tenant the reload declared joins the stream
// set from its next record. Every record reaches the pipeline.
func TestH28yReloadMovesTenantsInAndOutOfTheirSeries(t *testing.T) {
	r, s := handler(t, "tenancy.{signal}", false)
	prov := &h28yPolicy{}
	prov.set(t, "tenants:\n  acme: {}\n  globex: {}\n")
	r.policy = prov
	send := func(key string) {
		t.Helper()
		require.True(t, r.handle(t.Context(), &kgo.Record{Topic: "tenancy.logs", Partition: 3, Key: []byte(key), Value: logsMessage(t, [2]string{key, "m"})}))
	}
	series := func() map[string]int64 {
		out := map[string]int64{}
		r.records.Range(func(k recordsKey, n *atomic.Int64) { out[k.tenant] += n.Load() })
		return out
	}
	send("acme")
	send("globex")
	send("hooli")
	assert.Equal(t, map[string]int64{"acme": 1, "globex": 1, undeclaredTenant: 1}, series())

	// globex removed, hooli declared.
	prov.set(t, "tenants:\n  acme: {}\n  hooli: {}\n")
	send("globex")
	send("hooli")
	assert.Equal(t, map[string]int64{"acme": 1, "globex": 1, "hooli": 1, undeclaredTenant: 2}, series())

	got := r.streams(map[string][]int32{"tenancy.logs": {3}})
	assert.ElementsMatch(t, []tenantkafka.Stream{
		{Tenant: "acme", Signal: policy.SignalLogs},
		{Tenant: "globex", Signal: policy.SignalLogs},
		{Tenant: "hooli", Signal: policy.SignalLogs},
	}, got, "the revoke names the streams the partition carried while their tenants were declared")
	assert.Empty(t, r.streams(map[string][]int32{"tenancy.logs": {3}}), "and forgets them")
	assert.Len(t, s.all(), 5)
}
