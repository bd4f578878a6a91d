package main

import (
	"path/filepath"
	"testing"

	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/nab"
)

// The default configuration keeps its measured NAB v1.1 scores (in sample,
// each file's detector told NAB's probationary period: 77.92 standard,
// 72.59 low-FP, 81.83 low-FN); a change to the detector that loses more
// than half a point fails here before it reaches make bench-anomaly.
func TestNABFloor(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "nab")
	c, err := nab.OpenCorpus(dir)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := nab.LoadProfiles(filepath.Join(dir, "config", "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	ts, det, rows, err := detect(c, anomaly.DefaultConfig(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if rows != 365558 {
		t.Fatalf("%d rows, want NAB v1.1's 365558", rows)
	}
	res, err := c.Score(ts, det, profiles)
	if err != nil {
		t.Fatal(err)
	}
	floors := []float64{77.4, 72.0, 81.3}
	for i, r := range res {
		if r.Score < floors[i] {
			t.Errorf("%s: %.2f, want >= %.2f", r.Profile, r.Score, floors[i])
		}
	}
}

// Both grids start with the default configuration (so ties go to it), hold
// no setting twice and only valid ones, and have the sizes the docs state.
func TestSweepGrids(t *testing.T) {
	base := anomaly.DefaultConfig()
	for name, g := range map[string][]anomaly.Config{"sweep": sweep(base), "sweepFixed": sweepFixed(base)} {
		want := map[string]int{"sweep": 160, "sweepFixed": 144}[name]
		if len(g) != want || g[0] != base {
			t.Errorf("%s: %d settings starting with %+v, want %d starting with the default", name, len(g), g[0], want)
		}
		seen := map[anomaly.Config]bool{}
		for _, c := range g {
			if seen[c] {
				t.Errorf("%s: %+v twice", name, c)
			}
			seen[c] = true
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %+v: %v", name, c, err)
			}
		}
	}
}
