package nab

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var nabFlag = flag.String("nab", "", "NAB root (default $NAB_DIR or the repository's testdata/nab)")

func nabDir(t *testing.T) string {
	t.Helper()
	dir := *nabFlag
	if dir == "" {
		dir = os.Getenv("NAB_DIR")
	}
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "nab")
	}
	if _, err := os.Stat(filepath.Join(dir, "labels", "combined_windows.json")); err != nil {
		t.Fatalf("NAB data not found at %s (the repository keeps it in testdata/nab): %v", dir, err)
	}
	return dir
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

func TestScaledSigmoid(t *testing.T) {
	for _, c := range []struct{ y, want float64 }{{-1, 0.986614}, {-0.5, 0.848284}, {0, 0}, {1, -0.986614}, {3.5, -1}} {
		if got := ScaledSigmoid(c.y); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("S(%v) = %v, want %v", c.y, got, c.want)
		}
	}
	if ProbationLength(1000) != 150 || ProbationLength(10000) != 750 {
		t.Errorf("probation lengths %d %d", ProbationLength(1000), ProbationLength(10000))
	}
}

// A hand-computed file: 20 rows (probation 3), one window rows 10..13.
func TestHandComputed(t *testing.T) {
	ts := make([]string, 20)
	for i := range ts {
		ts[i] = string(rune('a'+i/10)) + string(rune('a'+i%10))
	}
	win := []Window{{ts[10], ts[13]}}
	cm := DefaultProfiles()[0].Costs
	sc := make([]float64, 20)
	sc[11] = 0.9 // second row of a 4-row window: pos -3/4
	sc[5] = 0.8  // before any window: -fpWeight
	sc[16] = 0.7 // 3 rows after the window end: pos 3/3 = 1
	pts, err := FilePoints(ts, sc, win, 0, cm)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 17 {
		t.Fatalf("%d points, want 17", len(pts))
	}
	tp := ScaledSigmoid(-0.75) / ScaledSigmoid(-1)
	cases := []struct{ thr, want float64 }{
		{1.1, -1},
		{0.9, tp},
		{0.8, tp - 0.11},
		{0.7, tp - 0.11 + ScaledSigmoid(1)*0.11},
		{0, 1 - 0.11 + ScaledSigmoid(1)*0.11 + sumFP(pts)}, // the window's first row now counts: tpWeight exactly
	}
	for _, c := range cases {
		if got := ScoreAt(pts, c.thr, cm); !near(got, c.want) {
			t.Errorf("threshold %v: %v, want %v", c.thr, got, c.want)
		}
	}
	best := Best(Sweep(append([]Point(nil), pts...), cm))
	if best.Threshold != 0.9 || !near(best.Raw, tp) {
		t.Errorf("best %+v, want threshold 0.9 raw %v", best, tp)
	}
	if got := Normalize(-116, 116, cm); got != 0 {
		t.Errorf("null normalises to %v", got)
	}
	if got := Normalize(116, 116, cm); got != 100 {
		t.Errorf("perfect normalises to %v", got)
	}
}

// sumFP is the cost of every other out-of-window row (scores 0 at threshold 0).
func sumFP(pts []Point) float64 {
	var s float64
	for _, p := range pts {
		if p.Window < 0 && p.Score == 0 {
			s += p.Weight
		}
	}
	return s
}

// TestCorpusCrossCheck scores synthetic detectors over the real corpus:
// the "first row of every window" detector is perfect (100) and a constant
// 0.5 is the null detector (0) by NAB's normalisation, so neither number
// depends on a published results file. An independent re-implementation of
// NAB scoring gave the same two numbers on the same outputs when this test
// was written.
func TestCorpusCrossCheck(t *testing.T) {
	c, err := OpenCorpus(nabDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumWindows() != 116 || len(c.Files) != 58 {
		t.Fatalf("%d windows in %d files, want 116 in 58", c.NumWindows(), len(c.Files))
	}
	ts := map[string][]string{}
	perfect, null := Detections{}, Detections{}
	for _, f := range c.Files {
		s, err := c.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		ts[f] = s.Timestamps
		p := make([]float64, len(s.Values))
		for i, x := range s.Timestamps {
			for _, w := range c.Windows[f] {
				if x == w.Start {
					p[i] = 1
				}
			}
		}
		perfect[f] = p
		n := make([]float64, len(s.Values))
		for i := range n {
			n[i] = 0.5
		}
		null[f] = n
	}
	for name, want := range map[string]float64{"perfect": 100, "null": 0} {
		det := perfect
		if name == "null" {
			det = null
		}
		res, err := c.Score(ts, det, DefaultProfiles())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if math.Abs(r.Score-want) > 0.1 {
				t.Errorf("%s %s: %.3f, want %.1f", name, r.Profile, r.Score, want)
			}
		}
	}
}
