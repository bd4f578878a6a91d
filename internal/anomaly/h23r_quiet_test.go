package anomaly

import (
	"slices"
	"testing"
)

// A QuietLevel below half a unit of the Detector's 1e-4 steps (valid: it
// is in [0,1]) must not become a level of 0, which every update's score
// reaches: the quiet span would then restart at every update and the
// window model never alarm again.
func TestH23rTinyQuietLevelDoesNotMuteTheWindowModel(t *testing.T) {
	xs := quietSeries()
	cfg := DefaultConfig()
	cfg.Probation = 100
	cfg.QuietLevel = 1e-5
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Config().QuietLevel; got <= 0 {
		t.Errorf("Config().QuietLevel = %v for %v: a level of 0 (New reads 0 as the default)", got, cfg.QuietLevel)
	}
	if w, _ := windowAlarms(t, cfg, xs, cfg.QuietLevel); len(w) == 0 {
		t.Error("no window alarm in the whole series: the quiet span restarts at every update")
	}
}

// A state restored from elsewhere (a baselines topic is writable by
// whoever the broker lets, or a member configured otherwise) holds a quiet
// count of up to 255: the detector restoring it stays quiet for at most
// its own span, and not at all with the span turned off.
func TestH23rRestoredQuietIsBoundedByTheConfiguredSpan(t *testing.T) {
	xs := quietSeries()
	base := DefaultConfig()
	base.Probation = 100
	src, err := New(base)
	if err != nil {
		t.Fatal(err)
	}
	cut := 700 // past the probation, inside the series' first break
	for _, v := range xs[:cut] {
		src.Update(t0, v)
	}
	for _, span := range []int{-1, 3} {
		cfg := base
		cfg.Quiet = span
		run := func(quiet uint8) []int {
			s := *src
			s.s.Quiet = quiet
			b, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			var window []int
			for i, v := range xs[cut:] {
				if d.Update(t0, v) > 0 && !d.Explain().OutOfRange {
					window = append(window, cut+i)
				}
			}
			return window
		}
		want := run(uint8(max(span, 0)))
		if len(want) == 0 {
			t.Fatalf("quiet %d: no window alarm after row %d: the series does not exercise it", span, cut)
		}
		if got := run(255); !slices.Equal(got, want) {
			t.Errorf("quiet %d: a restored count of 255 alarms at %v, its own span's count at %v", span, got, want)
		}
	}
}
