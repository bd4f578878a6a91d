package anomaly

import (
	"math"
	"math/rand"
	"testing"
	"time"
)

// quietSeries is a noisy wave whose shape breaks down, again and again,
// after its probation: each break opens new categories, block after block.
func quietSeries() []float64 {
	rng := rand.New(rand.NewSource(7))
	xs := make([]float64, 3000)
	for i := range xs {
		xs[i] = 10 + 3*math.Sin(float64(i)*2*math.Pi/40) + 0.2*rng.Float64()
		if i >= 600 && i%400 < 150 {
			xs[i] = 7 + 6*float64(i/7%3) + 0.5*rng.Float64()
		}
	}
	return xs
}

// windowAlarms runs xs through a detector of cfg and returns the rows whose
// window model alarmed (a score with the value inside the range seen) and
// the rows of all alarms of raw score level or more.
func windowAlarms(t *testing.T, cfg Config, xs []float64, level float64) (window, strong []int) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	for i, v := range xs {
		if d.Update(t0, v) > 0 {
			e := d.Explain()
			if !e.OutOfRange {
				window = append(window, i)
			}
			if e.Raw >= level {
				strong = append(strong, i)
			}
		}
	}
	return window, strong
}

// After an alarm of raw score QuietLevel or more the window model stays
// quiet for Quiet steps (blocks of Probation/104 rows: one row here); with
// Quiet negative it does not, and this series then alarms inside that span.
func TestQuietAfterStrongAlarm(t *testing.T) {
	xs := quietSeries()
	cfg := DefaultConfig()
	cfg.Probation = 100
	step := cfg.Probation / artPerProb
	within := func(window, strong []int) int {
		n := 0
		for _, w := range window {
			for _, s := range strong {
				if w > s && w-s <= cfg.Quiet*max(step, 1) {
					n++
					break
				}
			}
		}
		return n
	}
	off := cfg
	off.Quiet = -1
	if w, s := windowAlarms(t, off, xs, cfg.QuietLevel); within(w, s) == 0 {
		t.Fatalf("with no quiet span, no window alarm follows a strong alarm within %d rows: the series does not exercise it (window %v, strong %v)", cfg.Quiet, w, s)
	}
	w, s := windowAlarms(t, cfg, xs, cfg.QuietLevel)
	if len(s) == 0 {
		t.Fatal("no strong alarm")
	}
	if n := within(w, s); n > 0 {
		t.Errorf("%d window alarms within %d rows after a strong alarm (window %v, strong %v)", n, cfg.Quiet, w, s)
	}
}

// A Detector keeps its Config in 24 bytes, defaults filled in: Config
// returns what it was given where that was explicit, and a Config that
// cannot work is refused.
func TestConfigKept(t *testing.T) {
	c := DefaultConfig()
	c.Sensitivity, c.Probation, c.Suppress = 0.3, 604, 25
	c.Quiet, c.QuietLevel, c.AlarmRef, c.AlarmRate = 12, 0.35, 0.45, 0.15
	c.SurpriseRate, c.SurpriseWarm, c.SurpriseQuiet = 0.03, 1.5, 0.25
	d, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Config(); got != c {
		t.Errorf("Config() = %+v, want %+v", got, c)
	}
	d, err = New(Config{Sensitivity: 0.5, Probation: 150, Quiet: -3})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Suppress, want.Quiet = 0, -1
	if got := d.Config(); got != want {
		t.Errorf("defaults: Config() = %+v, want %+v", got, want)
	}
	d, err = New(Config{Sensitivity: 0.5, SurpriseRate: -1, SurpriseWarm: -2, SurpriseQuiet: -0.5})
	if err != nil {
		t.Fatal(err)
	}
	want = DefaultConfig()
	want.Probation, want.Suppress, want.SurpriseRate, want.SurpriseWarm, want.SurpriseQuiet = 0, 0, -1, -1, -1
	if got := d.Config(); got != want {
		t.Errorf("surprise off: Config() = %+v, want %+v", got, want)
	}
	for _, bad := range []Config{{Quiet: 256}, {QuietLevel: 1.5}, {AlarmRef: -0.1}, {AlarmRate: math.NaN()},
		{SurpriseRate: 1.5}, {SurpriseRate: math.NaN()}, {SurpriseWarm: 700}, {SurpriseQuiet: math.Inf(1)}, {SurpriseWarm: math.NaN()}} {
		if _, err := New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
