package anomaly

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// finiteState reports the first float field of s that is NaN or infinite.
func finiteState(s *state) (string, bool) {
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Float32, reflect.Float64:
			if x := f.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
				return v.Type().Field(i).Name, false
			}
		case reflect.Array:
			if k := f.Type().Elem().Kind(); k == reflect.Float32 || k == reflect.Float64 {
				for j := range f.Len() {
					if x := f.Index(j).Float(); math.IsNaN(x) || math.IsInf(x, 0) {
						return v.Type().Field(i).Name, false
					}
				}
			}
		}
	}
	return "", true
}

// One extreme value does not blind a detector (issue 16): 100±5 for 800
// rows with one extreme (beyond float32, at float64's limits, or of
// either sign) at various rows, in probation or after it, then 400 normal
// rows, then a spike of 100,000 (or -100,000) scores as an alarm. Before,
// the extreme widened the range seen for good (or made it infinite and the
// expected value NaN), and the spike scored 0. No NaN or infinity reaches a
// score, the expected value or the state.
func TestExtremeValueDoesNotBlind(t *testing.T) {
	for _, huge := range []float64{1e300, -1e300, math.MaxFloat64, -math.MaxFloat64, 1e39, -1e39, 1e20} {
		for _, at := range []int{0, 1, 50, 149, 150, 400, 799} {
			for _, spike := range []float64{100000, -100000} {
				extremeThenSpike(t, huge, at, spike)
			}
		}
	}
}

func extremeThenSpike(t *testing.T, huge float64, at int, spike float64) {
	t.Helper()
	{
		{
			{
				rng := rand.New(rand.NewPCG(uint64(at), 3))
				d, _ := New(DefaultConfig())
				var sc float64
				for i := range 1201 {
					v := 100 + 10*(rng.Float64()-0.5)
					switch i {
					case at:
						v = huge
					case 1200:
						v = spike
					}
					sc = d.Update(t0.Add(time.Duration(i)*step), v)
					e := d.Explain().Expected
					if !(sc >= 0 && sc <= 1) || math.IsNaN(e) || math.IsInf(e, 0) {
						t.Errorf("extreme %g at row %d: row %d scored %v, expected %v", huge, at, i, sc, e)
						return
					}
					if i >= at+20 && i < 1200 && (e < 80 || e > 120) {
						t.Errorf("extreme %g at row %d: expected value %v at row %d, want near 100", huge, at, e, i)
						return
					}
					if name, ok := finiteState(&d.s); !ok {
						t.Errorf("extreme %g at row %d: row %d left %s non-finite", huge, at, i, name)
						return
					}
				}
				if sc < alarm {
					t.Errorf("extreme %g at row %d: a spike to %g 400 rows later scored %.3f, want >= %v", huge, at, spike, sc, alarm)
				}
			}
		}
	}
}

// A few extremes (two far above, two far below, at separate rows) blind it
// no more than one does.
func TestFewExtremesDoNotBlind(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	d, _ := New(DefaultConfig())
	ext := map[int]float64{60: 1e300, 300: 5e12, 420: -1e300, 610: -3e9}
	var sc float64
	for i := range 1301 {
		v := 100 + 10*(rng.Float64()-0.5)
		if x, ok := ext[i]; ok {
			v = x
		}
		if i == 1300 {
			v = 1000
		}
		sc = d.Update(t0, v)
	}
	if sc < alarm {
		t.Errorf("a spike to 1000 after two extremes each way scored %.3f, want >= %v", sc, alarm)
	}
}

// NaN and ±Inf inputs are skipped: they score 0, leave the state finite
// and do not blind the detector to a later spike.
func TestNonFiniteInputSkipped(t *testing.T) {
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		rng := rand.New(rand.NewPCG(6, 6))
		d, _ := New(DefaultConfig())
		var sc float64
		for i := range 1201 {
			v := 100 + 10*(rng.Float64()-0.5)
			if i%97 == 5 {
				v = bad
			}
			if i == 1200 {
				v = 100000
			}
			sc = d.Update(t0, v)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if sc != 0 {
					t.Fatalf("%v at row %d scored %v", v, i, sc)
				}
			}
			if name, ok := finiteState(&d.s); !ok {
				t.Fatalf("%v: row %d left %s non-finite", bad, i, name)
			}
		}
		if sc < alarm || math.IsNaN(d.Explain().Expected) {
			t.Errorf("%v every 97 rows: a spike to 100,000 scored %.3f (expected %v)", bad, sc, d.Explain().Expected)
		}
	}
}

// A level shift is learnt: the range takes the new level in within a few
// rows, so after the first alarm the new level stops alarming, and a spike
// beyond it alarms again.
func TestLevelShiftAdapts(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	v := make([]float64, 3001)
	for i := range v {
		v[i] = 100 + 10*(rng.Float64()-0.5)
		if i >= 1000 {
			v[i] += 5000
		}
	}
	v[3000] = 20000
	s := run(t, v)
	if s[1000] < alarm {
		t.Errorf("the shift at row 1000 scored %.3f", s[1000])
	}
	if n := alarms(s, 1300, 3000); n > 0 {
		m, at := maxIn(s, 1300, 3000)
		t.Errorf("%d alarms at the new level from row 1300 (max %.3f at %d)", n, m, at)
	}
	if s[3000] < alarm {
		t.Errorf("a spike beyond the new level scored %.3f", s[3000])
	}
}

// A series with two modes, switching between them in runs, is learnt after
// its first switches, though the second mode is far beyond the first's
// range; and a series whose second mode is a short burst every day (a batch
// job) takes it into its range at the first burst.
func TestBimodalAdapts(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	runs := make([]float64, 4000)
	hi := false
	for i := range runs {
		if i >= 900 && rng.IntN(60) == 0 {
			hi = !hi
		}
		runs[i] = 20 + 4*rng.Float64()
		if hi {
			runs[i] = 20000 + 400*rng.Float64()
		}
	}
	s := run(t, runs)
	if n := alarms(s, 2500, len(s)); n > 0 {
		m, at := maxIn(s, 2500, len(s))
		t.Errorf("runs of two modes: %d alarms after row 2500 (max %.3f at %d)", n, m, at)
	}
	// The burst's values join the range at its first occurrence (three
	// rows of it): later bursts are not beyond the range seen. (Whether the
	// resonance model still alarms on a burst's shape is its own matter.)
	d, _ := New(DefaultConfig())
	for i := range 288 * 12 {
		v := 50 + 5*rng.Float64()
		if i%288 < 3 && i >= 288 {
			v = 1e6 * (1 + 0.1*rng.Float64())
		}
		d.Update(t0, v)
		if i >= 288*2 && d.Explain().OutOfRange {
			t.Errorf("a daily burst: row %d (%g) beyond the range seen, after the first burst", i, v)
		}
	}
}

// The window model's alarms are scaled by the series' own alarm history: a
// series whose alarms have been confident needs a proportionally more
// confident one to score as high; the first alarm, and a series whose
// alarms have been faint, keep their confidence; no alarm stays 0.
func TestAlarmRelativeToSeries(t *testing.T) {
	g := newGeom(DefaultConfig())
	var s state
	if got := s.relative(g, 0); got != 0 {
		t.Errorf("no alarm scored %v", got)
	}
	if got := s.relative(g, 0.9); got != 0.9 {
		t.Errorf("first alarm of 0.9 scored %v", got)
	}
	for range 20 {
		s.relative(g, 0.9)
	}
	if got := s.relative(g, 0.6); got > 0.6*0.5/0.85 {
		t.Errorf("after 21 alarms of 0.9, one of 0.6 scored %v, want at most %v", got, 0.6*0.5/0.85)
	}
	var quiet state
	for range 20 {
		quiet.relative(g, 0.3)
	}
	if got := quiet.relative(g, 0.6); got != 0.6 {
		t.Errorf("after 20 alarms of 0.3, one of 0.6 scored %v, want 0.6", got)
	}
	// AlarmRef 1 turns the scaling off.
	cfg := DefaultConfig()
	cfg.AlarmRef = 1
	off := newGeom(cfg)
	var loud state
	for range 20 {
		loud.relative(off, 0.9)
	}
	if got := loud.relative(off, 0.6); got != 0.6 {
		t.Errorf("scaling off: after 20 alarms of 0.9, one of 0.6 scored %v, want 0.6", got)
	}
	if name, ok := finiteState(&s); !ok {
		t.Errorf("%s non-finite", name)
	}
}
