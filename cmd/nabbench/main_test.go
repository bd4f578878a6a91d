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
