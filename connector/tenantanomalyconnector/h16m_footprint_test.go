package tenantanomalyconnector

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// A tenant's interval accumulators stay small beside its detectors: the
// traces signal's, holding an interval of the benchmark's spans (3 to 30
// ms) and a service, and the logs' and metrics', holding a service each,
// retain at most 1 KiB together on top of their structs, interval after
// interval (with ddsketch's dense store and a HyperLogLog per signal they
// took 2,851 B at 942668c, so 10,000 tenants x 19 series went over 200
// MiB; 625 B now).
func TestH16MAccumulatorsFootprint(t *testing.T) {
	const tenants = 2000
	accs := make([][signalCount]accumulator, tenants)
	fill := func() {
		for i := range accs {
			for s := range signalCount {
				accs[i][s].addService(fmt.Sprintf("svc-%d", i%5))
			}
			for j := range benchRecords {
				accs[i][signalTraces].addLatency(float64((j+1)*3_000_000) / 1e6)
			}
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 3 {
		fill()
		for i := range accs {
			for s := range signalCount {
				v := accs[i][s].values()
				require.Equal(t, 1.0, v[featServices])
				if s == signalTraces {
					require.InDelta(t, 15, v[featLatencyP50], 0.3)
				}
			}
		}
	}
	fill() // the open interval's, at its fullest
	runtime.GC()
	runtime.ReadMemStats(&after)
	perTenant := (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / tenants
	t.Logf("%.0f B per tenant beside the accumulators' structs", perTenant)
	require.LessOrEqual(t, perTenant, 1024.0)
	runtime.KeepAlive(accs)
}
