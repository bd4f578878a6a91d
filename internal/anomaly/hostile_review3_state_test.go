package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestHostileReview3CraftedStateStaysLoadable: a checkpoint that check()
// accepts (finite values, extremes in order) but holds values no update
// writes (the largest float32s; a baselines topic is writable by whoever
// the broker lets) must give scores in [0,1], and every state the detector
// then writes must load again: a state the detector cannot take back is
// refused at each restart or takeover and the series relearns for good.
func TestHostileReview3CraftedStateStaysLoadable(t *testing.T) {
	big := float32(math.MaxFloat32)
	crafts := map[string]func(s *state){
		"extremes at float32's ends": func(s *state) {
			s.Top = [artExtremes]float32{big, big, big}
			s.Bot = [artExtremes]float32{-big, -big, -big}
		},
		"top at float32's end": func(s *state) {
			s.Top = [artExtremes]float32{big, big, big}
		},
		"block average and span at float32's end": func(s *state) {
			s.BlockMA, s.DScale, s.DMin = big, big, -big
		},
		"extremes at the clamp": func(s *state) {
			s.Top = [artExtremes]float32{artClamp, artClamp, artClamp}
			s.Bot = [artExtremes]float32{-artClamp, -artClamp, -artClamp}
		},
		"third highest at float32's low end": func(s *state) {
			s.Top[2] = -big
			s.Bot[2] = big
		},
		"block sum at float64's end": func(s *state) {
			s.BlockSum = math.MaxFloat64
			s.BlockMin, s.BlockMax = -big, big
		},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for name, craft := range crafts {
		for _, p := range []int{8, 150} {
			for _, rows := range []int{2, 5, 100, 1000} {
				cfg := DefaultConfig()
				cfg.Probation = p
				d, _ := New(cfg)
				for i := range rows {
					d.Update(t0, 100+float64(i%10))
				}
				craft(&d.s)
				b, err := d.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				d2, _ := New(cfg)
				if err := d2.UnmarshalBinary(b); err != nil {
					continue // refused: relearnt, as documented
				}
				for i := range 600 {
					v := 100 + float64(i%10)
					if i%97 == 0 {
						v = (r.Float64() - 0.5) * 2e37
					}
					if sc := d2.Update(t0, v); !(sc >= 0 && sc <= 1) {
						t.Fatalf("%s, probation %d, %d rows: update %d scores %v", name, p, rows, i, sc)
					}
					b, _ := d2.MarshalBinary()
					if err := new(Detector).UnmarshalBinary(b); err != nil {
						t.Fatalf("%s, probation %d, %d rows: after update %d the detector's own state is refused: %v", name, p, rows, i, err)
					}
				}
			}
		}
	}
}

// TestHostileReview3AlarmConfidenceOutOfRangeRefused: no update writes a
// mean alarm confidence outside [0,1] (it moves toward confidences in
// (0,1]). A checkpoint holding 1e30 would scale every window alarm of the
// series by 0.5/1e30 until some 300 alarms had worn it down; one holding
// a negative value makes every window alarm score 0. Both are refused.
func TestHostileReview3AlarmConfidenceOutOfRangeRefused(t *testing.T) {
	for _, c := range []float32{1e30, 1.0001, -5, -1e-6} {
		d, _ := New(DefaultConfig())
		for i := range 300 {
			d.Update(t0, 100+float64(i%10))
		}
		d.s.AlarmConf = c
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if err := new(Detector).UnmarshalBinary(b); err == nil {
			t.Errorf("a state with mean alarm confidence %v was taken", c)
		}
	}
	for _, c := range []float32{0, 0.3, 1} {
		d, _ := New(DefaultConfig())
		d.s.AlarmConf = c
		b, _ := d.MarshalBinary()
		if err := new(Detector).UnmarshalBinary(b); err != nil {
			t.Errorf("mean alarm confidence %v refused: %v", c, err)
		}
	}
}
