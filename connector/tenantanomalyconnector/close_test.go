package tenantanomalyconnector

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A close in slices of one tenant each (the flush lock is free between
// any two tenants) scores and flags exactly as a close in one pass, with
// the nominal interval's bounds.
func TestCloseInSlicesMatchesOnePass(t *testing.T) {
	pol := benchPolicy(t, 30)
	tenants := pol.TenantIDs()
	whole := newHarness(t, testConfig(), pol, nil, t0)
	sliced := newHarness(t, testConfig(), pol, nil, t0)
	whole.monitor().closeSlice = time.Hour
	sliced.monitor().closeSlice = time.Nanosecond
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 40 {
		for k, tn := range tenants {
			n := 95 + r.IntN(11)
			if i == 35 && k%7 == 3 {
				n = 2000
			}
			whole.sendLogs(tn, n, 2)
			sliced.sendLogs(tn, n, 2)
		}
		ws := whole.monitor().closeInterval(context.Background(), whole.clock.Add(time.Minute), 0, nil)
		ss := sliced.monitor().closeInterval(context.Background(), sliced.clock.Add(time.Minute), 0, nil)
		require.Equal(t, 1, ws.slices)
		require.Equal(t, len(tenants), ss.slices)
	}
	want, got := whole.anomalies(), sliced.anomalies()
	require.Len(t, want, 4, "the spiking tenants")
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i].Attributes().AsRaw(), got[i].Attributes().AsRaw())
		assert.Equal(t, want[i].Body().AsString(), got[i].Body().AsString())
		assert.Equal(t, want[i].Timestamp(), got[i].Timestamp())
	}
	end := t0.Add(36 * time.Minute)
	assert.Equal(t, end.Add(-time.Minute).Format(time.RFC3339Nano), str(got[0].Attributes(), AttrStart))
	assert.Equal(t, end.Format(time.RFC3339Nano), str(got[0].Attributes(), AttrEnd))
}

// A paced close that a shutdown interrupts goes on at once: every tenant
// is closed and the records come out with the interval's bounds.
func TestPacedCloseFinishesOnStop(t *testing.T) {
	pol := benchPolicy(t, 30)
	h := newHarness(t, testConfig(), pol, nil, t0)
	m := h.monitor()
	m.closeSlice = time.Nanosecond
	r := rand.New(rand.NewPCG(7, 8))
	for range 30 {
		for _, tn := range pol.TenantIDs() {
			h.sendLogs(tn, 95+r.IntN(11), 2)
		}
		h.flush()
	}
	for _, tn := range pol.TenantIDs() {
		n := 95 + r.IntN(11)
		if tn == "tenant-00007" {
			n = 2000
		}
		h.sendLogs(tn, n, 2)
	}
	stop := make(chan struct{})
	close(stop)
	end := h.clock.Add(time.Minute)
	done := make(chan closeStats)
	// Paced over an hour, the close would wait two minutes after its first
	// slice.
	go func() { done <- m.closeInterval(context.Background(), end, time.Hour, stop) }()
	select {
	case st := <-done:
		assert.Equal(t, 30, st.slices)
	case <-time.After(time.Minute):
		t.Fatal("the paced close did not go on at once when stopped")
	}
	got := h.anomalies()
	require.Len(t, got, 1)
	a := got[0].Attributes()
	assert.Equal(t, "tenant-00007", str(a, AttrTenantID))
	assert.Equal(t, end.Add(-time.Minute).Format(time.RFC3339Nano), str(a, AttrStart))
	assert.Equal(t, end.Format(time.RFC3339Nano), str(a, AttrEnd))
}
