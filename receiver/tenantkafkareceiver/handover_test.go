package tenantkafkareceiver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tenancyhq/tenancy/internal/peertest"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// startLogs starts the logs receiver of cfg on next; the caller shuts it
// down.
func startLogs(t *testing.T, cfg *Config, next consumer.Logs) receiver.Logs {
	t.Helper()
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())
	set.ID = component.NewID(f.Type())
	l, err := f.CreateLogs(t.Context(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, l.Start(t.Context(), policyHost(t)))
	return l
}

// handoverLog records what the receivers announce.
type handoverLog struct {
	mu       sync.Mutex
	assigned int
	revoked  []tenantkafka.Stream
	lost     []tenantkafka.Stream
}

func (h *handoverLog) Assigned() {
	h.mu.Lock()
	h.assigned++
	h.mu.Unlock()
}

func (h *handoverLog) Revoked(_ context.Context, s []tenantkafka.Stream) {
	h.mu.Lock()
	h.revoked = append(h.revoked, s...)
	h.mu.Unlock()
}

func (h *handoverLog) Lost(s []tenantkafka.Stream) {
	h.mu.Lock()
	h.lost = append(h.lost, s...)
	h.mu.Unlock()
}

func (h *handoverLog) revokedStreams() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, s := range h.revoked {
		out = append(out, s.Tenant+"/"+string(s.Signal))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestHandoverAnnouncesStreams: a member leaving the group announces the
// streams its partitions carried, before another member is given them: a
// tenant topic's own, or, with one topic per signal, the tenants read
// from each shared partition. Assignments are announced too.
func TestHandoverAnnouncesStreams(t *testing.T) {
	for _, tc := range []struct {
		name, topic string
		recs        []*kgo.Record
	}{
		{"per-tenant topics", "", []*kgo.Record{
			{Topic: "tenancy.acme.logs", Key: []byte("acme")},
			{Topic: "tenancy.globex.logs", Key: []byte("globex")},
		}},
		{"shared topic", "tenancy.{signal}", []*kgo.Record{
			{Topic: "tenancy.logs", Key: []byte("acme")},
			{Topic: "tenancy.logs", Key: []byte("globex")},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := peertest.StartKafka(t)
			for _, r := range tc.recs {
				r.Value = logsMessage(t, [2]string{string(r.Key), "m"})
			}
			produce(t, broker, tc.recs...)
			h := &handoverLog{}
			t.Cleanup(tenantkafka.Subscribe(DefaultGroupID, h))

			cfg := testConfig(broker)
			if tc.topic != "" {
				cfg.Topic = tc.topic
			}
			s := &sink{}
			l := startLogs(t, cfg, s)
			eventually(t, "both tenants' messages", func() bool { return len(s.all()) == 2 })
			h.mu.Lock()
			assert.Positive(t, h.assigned)
			assert.Empty(t, h.revoked, "nothing revoked while it is the only member")
			h.mu.Unlock()

			require.NoError(t, l.Shutdown(context.Background()))
			assert.Equal(t, []string{"acme/logs", "globex/logs"}, h.revokedStreams(), "leaving hands over every stream it read")
		})
	}
}

// TestSpreadTenantShards: in a shared topic a spread tenant's key is
// tenant/shard: the tenant is the part before the "/", batches of shards
// other than 0 reach the pipeline marked as not sampled (the anomaly
// baselines are learnt on shard 0), and a key whose shard is not one is
// dropped as invalid_tenant. Only shard 0's tenants are handed over.
func TestSpreadTenantShards(t *testing.T) {
	broker := peertest.StartKafka(t)
	recs := []*kgo.Record{
		{Topic: "tenancy.logs", Key: []byte("acme/0")},
		{Topic: "tenancy.logs", Key: []byte("acme/2")},
		{Topic: "tenancy.logs", Key: []byte("globex/2")},
		{Topic: "tenancy.logs", Key: []byte("acme/x")},
		{Topic: "tenancy.logs", Key: []byte("acme/02")},
	}
	for _, r := range recs {
		r.Value = logsMessage(t, [2]string{"", string(r.Key)})
	}
	produce(t, broker, recs...)
	h := &handoverLog{}
	t.Cleanup(tenantkafka.Subscribe(DefaultGroupID, h))
	cfg := testConfig(broker)
	cfg.Topic = "tenancy.{signal}"
	s := &sink{}
	l := startLogs(t, cfg, s)
	eventually(t, "three batches", func() bool { return len(s.all()) == 3 })
	byKey := map[string]got{}
	for _, g := range s.all() {
		byKey[g.markers[0]] = g
	}
	assert.Equal(t, "acme", byKey["acme/0"].auth.Tenant)
	assert.True(t, byKey["acme/0"].sampled)
	assert.Equal(t, "acme", byKey["acme/2"].auth.Tenant)
	assert.False(t, byKey["acme/2"].sampled)
	assert.Equal(t, "globex", byKey["globex/2"].auth.Tenant)
	r, err := receivers.LoadOrStore(cfg, func() (*kafkaReceiver, error) { return nil, errors.New("none") })
	require.NoError(t, err)
	eventually(t, "two invalid keys dropped", func() bool { return r.Unwrap().dropped.Get(reasonInvalidTenant).Load() == 2 })
	require.NoError(t, l.Shutdown(context.Background()))
	assert.Equal(t, []string{"acme/logs"}, h.revokedStreams(), "globex's shard 0 was never read here")
}
