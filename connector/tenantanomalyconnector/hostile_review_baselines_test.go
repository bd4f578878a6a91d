package tenantanomalyconnector

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// damagedLogsBaseline is a logs baseline record of the right format and
// length whose detectors' state has one field out of its range: the
// median level (two bytes at state offset 102) at 0xffff.
func damagedLogsBaseline(t *testing.T, cfg *Config) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	b := []byte{storageFormat, byte(signalLogs)}
	for range signalFeatures[signalLogs] {
		d, err := anomaly.New(cfg.detectorConfig(anomaly.DefaultConfig().Sensitivity))
		require.NoError(t, err)
		for i := range 400 {
			d.Update(t0.Add(time.Duration(i)*time.Minute), float64(100+r.IntN(10)))
		}
		st, err := d.MarshalBinary()
		require.NoError(t, err)
		st[1+102], st[1+103] = 0xff, 0x7f
		b = append(b, st...)
	}
	return b
}

// TestDamagedBaselineOnTheTopicStartsAfresh: a record in tenancy._baselines
// (a bit flip, another build's layout under the same version, or a writer
// other than the processing tier) whose detector state is damaged must
// start the stream afresh, as a record of the wrong length does; it must
// not reach the detectors. Were it to panic at the interval close, every
// member the partition moves to would claim the key and crash in turn.
func TestDamagedBaselineOnTheTopicStartsAfresh(t *testing.T) {
	cfg := kafkaBaselinesConfig(t)
	store, err := tenantkafka.NewBaselines(t.Context(), *cfg.Baselines)
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Put(t.Context(), tenantkafka.Entry{Key: baselineKey("acme", signalLogs), Value: damagedLogsBaseline(t, cfg)}))

	h := newHarness(t, cfg, loadPolicy(t), nil, t0)
	h.sendLogs("acme", 10, 0) // claims acme/logs, reading the record
	assert.NotPanics(t, func() {
		for range 3 {
			h.sendLogs("acme", 10, 0)
			h.monitor().flush(context.Background(), h.clock.Add(h.cfg.Interval))
		}
	})
}

// TestDamagedBaselineIsRefusedWhenDecoded: the same record, decoded as a
// claim or a restore decodes it, is refused, or else its detectors score
// without a panic (fails fast, where the test above hangs on the lock
// the panic left held).
func TestDamagedBaselineIsRefusedWhenDecoded(t *testing.T) {
	cfg := testConfig()
	m := &monitor{cfg: cfg}
	sig, err := m.decodeTenant(damagedLogsBaseline(t, cfg), anomaly.DefaultConfig().Sensitivity)
	if err != nil {
		return // refused: the stream starts afresh
	}
	for _, d := range sig[signalLogs].det {
		if d == nil {
			continue
		}
		assert.NotPanics(t, func() { d.Update(t0, 100) })
	}
}
