package tenantanomalyconnector

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/peertest"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

func kafkaBaselinesConfig(t *testing.T) *Config {
	t.Helper()
	broker := peertest.StartKafka(t)
	cfg := testConfig()
	cfg.Baselines = &tenantkafka.BaselinesConfig{ClientConfig: tenantkafka.ClientConfig{Brokers: []string{broker}}, Partitions: 4}
	cfg.CheckpointInterval = time.Hour // only the handover writes
	require.NoError(t, cfg.Validate())
	return cfg
}

func points(h *harness, tenant string, s signal) uint64 {
	m := h.monitor()
	m.mu.Lock()
	t := m.series[tenant]
	m.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.sig[s].learnt() {
		return 0
	}
	return t.sig[s].det[featRecords].Points()
}

// TestBaselinesFollowTheStream: member A learns acme's baselines; the
// group moves acme's streams to member B. A hands them over on the revoke
// and no longer scores acme (its silence there is no drop); B goes on from
// A's baselines, so a spike two intervals after the move is flagged,
// where a new baseline would still be in probation, and the record says
// how many intervals the baseline had learnt.
func TestBaselinesFollowTheStream(t *testing.T) {
	cfg := kafkaBaselinesConfig(t)
	pol := loadPolicy(t)
	a := newHarness(t, cfg, pol, nil, t0)
	r := rand.New(rand.NewPCG(3, 4))
	for range 30 {
		baseline(a, r, "acme", "initech")
		a.flush()
	}
	require.Empty(t, a.anomalies())
	learnt := points(a, "acme", signalLogs)
	require.EqualValues(t, 29, learnt, "the interval of the first claim is partial, not scored")

	b := newHarness(t, cfg, pol, nil, a.clock.Now())
	group := tenantkafka.DefaultGroupID
	tenantkafka.AnnounceRevoked(t.Context(), group, []tenantkafka.Stream{{Tenant: "acme", Signal: policy.SignalLogs}, {Tenant: "acme", Signal: policy.SignalTraces}})
	tenantkafka.AnnounceAssigned(group)

	// A keeps initech and no longer holds acme.
	for range 5 {
		baseline(a, r, "initech")
		a.flush()
	}
	assert.Empty(t, a.anomalies(), "acme's silence on the member it left is not a drop")
	assert.Zero(t, points(a, "acme", signalLogs))
	assert.EqualValues(t, 34, points(a, "initech", signalLogs))

	// B's first interval with acme holds only the records since the move:
	// not scored. Then B goes on.
	baseline(b, r, "acme")
	b.flush()
	assert.Equal(t, learnt, points(b, "acme", signalLogs), "A's baseline, unchanged by the partial interval")
	assert.Zero(t, points(b, "initech", signalLogs), "initech stayed on A")
	for range 2 {
		baseline(b, r, "acme")
		b.flush()
	}
	assert.Empty(t, b.anomalies())
	b.sendLogs("acme", 2000, 2)
	b.sendSpans("acme", 20, 50*time.Millisecond)
	b.flush()
	got := b.anomalies()
	require.Len(t, got, 1, "flagged 4 intervals after the move; a new baseline has a probation of %d", cfg.Probation)
	attrs := got[0].Attributes()
	assert.Equal(t, "acme", str(attrs, AttrTenantID))
	pts, ok := attrs.Get(AttrBaselinePoints)
	require.True(t, ok)
	assert.EqualValues(t, learnt+3, pts.Int(), "A's 29 intervals and B's 3 scored ones")
	assert.Greater(t, pts.Int(), int64(cfg.Probation))
}

// TestBaselinesKeyIsTheVerifiedTenant: a record acme's stream carries that
// claims initech is counted for acme (the tenant processor put acme in
// tenant.authenticated): it claims acme's stream, never initech's, so
// acme's data cannot reach initech's baseline.
func TestBaselinesKeyIsTheVerifiedTenant(t *testing.T) {
	cfg := kafkaBaselinesConfig(t)
	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	attrs := rl.Resource().Attributes()
	attrs.PutStr(identity.AttrTenantID, policy.Quarantine)
	attrs.PutStr(identity.AttrQuarantineReason, reasonSpoofed)
	attrs.PutStr(identity.AttrAuthenticated, "acme")
	attrs.PutStr(identity.AttrClaimed, "initech")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, h.logs.ConsumeLogs(context.Background(), ld))
	m := h.monitor()
	assert.True(t, m.series["acme"].claimed[signalLogs].Load())
	assert.False(t, m.series["initech"].claimed[signalLogs].Load())
}

func TestBaselinesExcludeStorage(t *testing.T) {
	cfg := testConfig()
	cfg.Baselines = &tenantkafka.BaselinesConfig{ClientConfig: tenantkafka.ClientConfig{Brokers: []string{"127.0.0.1:9092"}}}
	cfg.Storage = &storageID
	assert.ErrorContains(t, cfg.Validate(), "baselines: set baselines or storage")
	cfg.Storage = nil
	cfg.Baselines.Partitions = -1
	assert.ErrorContains(t, cfg.Validate(), "baselines: partitions")
}

// TestSpreadTenantLearntOnShardZero: a spread tenant's batches from
// shards other than 0 are not observed; its baselines are learnt on
// shard 0, a fixed sample that stays one stream.
func TestSpreadTenantLearntOnShardZero(t *testing.T) {
	h := newHarness(t, testConfig(), loadPolicy(t), nil, t0)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, h.logs.ConsumeLogs(tenantkafka.WithShard(context.Background(), 2), ld))
	m := h.monitor()
	assert.Nil(t, m.series["acme"].sig[signalLogs], "shard 2 is not observed")
	require.NoError(t, h.logs.ConsumeLogs(tenantkafka.WithShard(context.Background(), 0), ld))
	require.NotNil(t, m.series["acme"].sig[signalLogs])
	assert.EqualValues(t, 1, m.series["acme"].sig[signalLogs].acc.records)
}
