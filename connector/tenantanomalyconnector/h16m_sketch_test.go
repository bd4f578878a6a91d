package tenantanomalyconnector

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"
)

// The compact latency sketch gives the quantiles ddsketch's
// LogCollapsingLowestDenseDDSketch gives for the same durations, interval
// after interval (the sketch is cleared and reused), also when the
// durations span more bins than the bound and the lowest collapse.
func TestH16MLatencySketchMatchesDDSketch(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 1))
	for _, tc := range []struct {
		accuracy float64
		maxBins  int
	}{{latencyAccuracy, latencyMaxBins}, {valueAccuracy, valueMaxBins}, {latencyAccuracy, 8}, {valueAccuracy, 3}, {latencyAccuracy, 1}} {
		m := mustLogMapping(tc.accuracy)
		s := newLatencySketch(m, tc.maxBins)
		for interval := range 300 {
			ref, err := ddsketch.LogCollapsingLowestDenseDDSketch(tc.accuracy, tc.maxBins)
			require.NoError(t, err)
			n := rng.IntN(200)
			scale := math.Pow(10, float64(rng.IntN(12)-4))
			for range n {
				var ms float64
				switch rng.IntN(10) {
				case 0:
					ms = 0
				case 1:
					ms = rng.Float64() * 1e-9
				case 2:
					ms = math.Exp(rng.Float64()*60 - 20) // very wide: collapses
				default:
					ms = scale * (1 + rng.ExpFloat64())
				}
				s.add(ms)
				_ = ref.Add(ms)
			}
			p50, p99, ok := s.quantiles()
			require.Equal(t, !ref.IsEmpty(), ok, "interval %d", interval)
			if ok {
				q, err := ref.GetValuesAtQuantiles([]float64{0.5, 0.99})
				require.NoError(t, err)
				require.Equal(t, q[0], p50, "p50: accuracy %g, max bins %d, interval %d", tc.accuracy, tc.maxBins, interval)
				require.Equal(t, q[1], p99, "p99: accuracy %g, max bins %d, interval %d", tc.accuracy, tc.maxBins, interval)
			}
			require.LessOrEqual(t, len(s.bins), tc.maxBins)
			s.clear()
		}
	}
}

// The distinct set counts what a HyperLogLog sketch that took every name
// counts, below and above the inline names, interval after interval.
func TestH16MDistinctSetMatchesHyperLogLog(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2))
	var d distinctSet
	for interval := range 200 {
		ref := hyperloglog.New14()
		n := rng.IntN(8)
		if interval%10 == 9 {
			n = rng.IntN(5000)
		}
		for range n {
			name := "svc-" + strconv.Itoa(rng.IntN(n+1))
			d.add(name)
			ref.Insert([]byte(name))
		}
		require.Equal(t, ref.Estimate(), d.estimate(), "interval %d", interval)
		d.reset()
	}
}
