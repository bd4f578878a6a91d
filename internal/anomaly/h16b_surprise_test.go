package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// spikeTrain is an idle series (0 to 0.05) with a spike of 1 to 3 every
// `every` rows on average.
func spikeTrain(rng *rand.Rand, every int) float64 {
	if rng.IntN(every) == 0 {
		return 1 + 2*rng.Float64()
	}
	return 0.05 * rng.Float64()
}

// The surprise rule flags a spike train that turns dense, its spikes no
// higher than before (NAB's art_load_balancer_spikes, an idle instance
// gone busy): no value leaves the range, and only the share of values in
// rarely visited bins grows. The rule alone, past a probation of 600 rows
// (the range 0 to 3), stays quiet over 3,000 rows of a spike every 40 rows
// on average and alarms within 150 rows of their turning one in 3. (In the
// whole detector the resonance model's faint alarms on such a series, below
// any useful threshold, can keep the rule quiet: it waits a probation after
// any alarm.)
func TestSurpriseDenseSpikes(t *testing.T) {
	const quiet, busy = 3000, 600
	rng := rand.New(rand.NewPCG(7, 7))
	cfg := DefaultConfig()
	cfg.Probation = 600
	g := newGeom(cfg)
	var a state
	a.DMin, a.DScale = -3, 9 // the resonance model's scale of a 0-to-3 probation
	var hits []int
	for i := range quiet + busy {
		every := 40
		if i >= quiet {
			every = 3
		}
		row := uint32(cfg.Probation + i)
		if a.Sp.update(g, &a, row, spikeTrain(rng, every)) > 0 {
			hits = append(hits, i)
			a.LastAlarm = row + 1
		}
	}
	if len(hits) == 0 || hits[0] < quiet || hits[0] >= quiet+150 {
		t.Errorf("alarms at rows %v after probation; want the first in [%d,%d)", hits, quiet, quiet+150)
	}
}

// The surprise rule keeps quiet on a steady noisy series however long it
// runs: its moving mean stays within the highest it reached while warming up.
func TestSurpriseQuietOnSteadyNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	cfg := DefaultConfig()
	cfg.Probation = 300
	d, _ := New(cfg)
	n := 0
	for i := range 20000 {
		d.Update(t0.Add(time.Duration(i)*step), 50+rng.NormFloat64()*2)
		if p := &d.s.Sp; p.N > 0 && d.last.raw == 1 && !d.last.outOfRange {
			n++
		}
	}
	if n > 3 {
		t.Errorf("%d surprise alarms on 20,000 rows of steady noise", n)
	}
}

// A restored state whose surprise counts disagree with their total, or
// whose moving mean is not a surprise, is refused.
func TestSurpriseStateChecked(t *testing.T) {
	damage := map[string]func(p *surprise){
		"total":    func(p *surprise) { p.Tot++ },
		"count":    func(p *surprise) { p.Cnt[3] += 7 },
		"NaN mean": func(p *surprise) { p.Short = float32(math.NaN()) },
		"negative": func(p *surprise) { p.Max = -1 },
		"infinite": func(p *surprise) { p.Max = float32(math.Inf(1)) },
	}
	for name, f := range damage {
		rng := rand.New(rand.NewPCG(4, 4))
		d, _ := New(DefaultConfig())
		for i := range 1000 {
			d.Update(t0.Add(time.Duration(i)*step), daily(i, rng))
		}
		if d.s.Sp.Tot == 0 {
			t.Fatal("no value binned after 1,000 rows")
		}
		b, _ := d.MarshalBinary()
		if err := new(Detector).UnmarshalBinary(b); err != nil {
			t.Fatalf("undamaged state refused: %v", err)
		}
		f(&d.s.Sp)
		b, _ = d.MarshalBinary()
		if err := new(Detector).UnmarshalBinary(b); err == nil {
			t.Errorf("%s: damaged surprise state taken", name)
		}
	}
}

// TestSurpriseStateBeyondReachRefused: counts past spCap, or a moving mean
// or highest mean beyond the largest surprise update can produce, come
// only from a crafted or corrupt checkpoint (a highest mean out of reach
// would silence the rule for good); they are refused, while the largest
// reachable values pass.
func TestSurpriseStateBeyondReachRefused(t *testing.T) {
	reach := float32(math.Log((spCap + spBins*0.5) / 0.5))
	ok := surprise{Tot: spCap, Short: reach, Max: reach}
	ok.Cnt[0] = spCap
	if err := ok.check(); err != nil {
		t.Fatalf("reachable state refused: %v", err)
	}
	for name, p := range map[string]surprise{
		"max beyond reach":   {Max: reach * 1.01},
		"short beyond reach": {Short: reach * 1.01},
		"max of uint32 log":  {Max: 22.87},
		"counts past cap":    {Cnt: [spBins]uint16{spCap + 1}, Tot: spCap + 1},
	} {
		if err := p.check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
