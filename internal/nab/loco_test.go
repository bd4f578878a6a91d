package nab

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Two categories, one 20-row file each (probation 3), one window at rows
// 10..13. Configuration 0 catches A's window and false-alarms on B;
// configuration 1 catches B's window and is silent on A. In sample, each
// category would get the configuration that catches it; held out, each gets
// the one chosen on the other, and so misses.
func TestLeaveOneCategoryOut(t *testing.T) {
	ts := make([]string, 20)
	for i := range ts {
		ts[i] = fmt.Sprintf("2024-01-01 00:%02d:00", i)
	}
	win := []Window{{ts[10], ts[13]}}
	c := &Corpus{Files: []string{"A/a.csv", "B/b.csv"}, Windows: map[string][]Window{"A/a.csv": win, "B/b.csv": win}}
	row := func(i int, v float64) []float64 { s := make([]float64, 20); s[i] = v; return s }
	zero := make([]float64, 20)
	cands := []Detections{
		{"A/a.csv": row(10, 0.9), "B/b.csv": row(5, 0.9)},
		{"A/a.csv": zero, "B/b.csv": row(10, 0.8)},
	}
	tsm := map[string][]string{"A/a.csv": ts, "B/b.csv": ts}
	prof := DefaultProfiles()[0]
	res, err := c.LeaveOneCategoryOut(tsm, cands, []Profile{prof})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Categories(); len(got) != 2 || got[0] != "A" || got[1] != "B" {
		t.Fatalf("categories %v", got)
	}
	h := res[0]
	a, b := h.PerCategory[0], h.PerCategory[1]
	if a.Category != "A" || a.Config != 1 || a.Threshold != 0.8 || !near(a.Raw, -prof.Costs.FN) || !near(a.Score, 0) {
		t.Errorf("A held out: %+v, want configuration 1 at 0.8 (chosen on B), a miss, score 0", a)
	}
	if b.Category != "B" || b.Config != 0 || b.Threshold != 0.9 || !near(b.Raw, -prof.Costs.FN-prof.Costs.FP) {
		t.Errorf("B held out: %+v, want configuration 0 at 0.9 (chosen on A), a miss and a false positive", b)
	}
	if !near(h.Raw, a.Raw+b.Raw) || !near(h.Score, Normalize(a.Raw+b.Raw, 2, prof.Costs)) {
		t.Errorf("total %+v", h)
	}

	// In sample with configuration 0, at the corpus threshold 0.9: A is caught,
	// B has a miss and a false positive.
	r, err := c.Score(tsm, cands[0], []Profile{prof})
	if err != nil {
		t.Fatal(err)
	}
	in := c.InSample(r[0], prof)
	if len(in) != 2 || in[0].Raw <= 0 || !near(in[1].Raw, -prof.Costs.FN-prof.Costs.FP) || !near(in[0].Raw+in[1].Raw, r[0].Raw) {
		t.Errorf("in sample by category %+v, corpus raw %v", in, r[0].Raw)
	}
}

// The one-pass held-out sweep agrees with sweeping the other groups' points
// directly.
func TestSweepHeldOutMatchesSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	cm := DefaultProfiles()[0].Costs
	byCat := make([][]Point, 4)
	win := 0
	for i := range byCat {
		for j := 0; j < 300; j++ {
			p := Point{Score: math.Round(rng.Float64()*200) / 200, Window: -1, Weight: -cm.FP}
			if j%50 < 5 {
				p.Window, p.Weight = win+j/50, rng.Float64()*2-1
			}
			byCat[i] = append(byCat[i], p)
		}
		win += 6
	}
	got := sweepHeldOut(byCat, cm)
	for i := range byCat {
		var others []Point
		for j, ps := range byCat {
			if j != i {
				others = append(others, ps...)
			}
		}
		want := Best(Sweep(others, cm))
		if !near(got[i].Raw, want.Raw) || got[i].Threshold != want.Threshold {
			t.Errorf("group %d: %+v, want %+v", i, got[i], want)
		}
	}
}
