// Package anomaly is the streaming anomaly detector behind the tenantanomaly
// connector: one small Detector per (tenant, feature) series turns each new
// value into a score in [0,1], online and without look-ahead.
//
// Three detectors run side by side: an adaptive-resonance model of the
// series' recent shape (see art.go), which alarms when a window of
// downsampled values fits none of the categories it has learned; HTM's
// out-of-range rule, which alarms on a value beyond everything seen by a
// margin (less one or two isolated extremes); and a surprise rule (see
// h16b_surprise.go), which alarms when the recent values fall in rarely
// visited bins of the series' range more than ever before. The resonance model's alarms count relative to
// the series' earlier ones, so a series whose alarms have been confident
// needs more to alarm again. All state
// is fixed-size (see StateSize): under 1 KiB per series, the categories as
// 8-bit boxes.
package anomaly

import (
	"fmt"
	"math"
	"time"
)

// Config tunes a Detector. Start from DefaultConfig; the defaults are the
// setting benchmarked on NAB.
type Config struct {
	// Sensitivity in [0,1] shifts how readily scores rise: 0.5 is the
	// benchmarked setting, 1 lifts every score above 0 (a raw score r
	// becomes sqrt(r)), 0 lowers it (0.9 r²).
	Sensitivity float64
	// Probation is the number of first points of a series that always score 0
	// while the detector learns its range and first categories. It also sets
	// the time scale: blocks of Probation/104 points are the model's steps.
	Probation int
	// Suppress is how many points after an alarm a value beyond the seen
	// range may not alarm again (one event, one alarm).
	Suppress int
	// The surprise knobs are float32 so Config and the state fit the
	// Detector into Go's 896-byte size class.
	//
	// SurpriseRate is the weight of each new point in the surprise rule's
	// moving mean surprise (see h16b_surprise.go); 0 turns the rule off.
	SurpriseRate float32
	// SurpriseWarm is how many probations of points after probation the
	// surprise rule watches before it may alarm.
	SurpriseWarm float32
	// SurpriseQuiet is how many probations of points after any alarm the
	// surprise rule stays quiet.
	SurpriseQuiet float32
	// AlarmRef is the mean confidence of a series' earlier window-model
	// alarms above which a new one is scaled down by AlarmRef over that
	// mean (a series that keeps producing confident new shapes needs more
	// to alarm again); 1 turns the scaling off.
	AlarmRef float32
}

// DefaultConfig returns the configuration benchmarked on NAB v1.1 (where
// each file's Probation is NAB's probationary period instead).
func DefaultConfig() Config {
	return Config{
		Sensitivity:   0.5,
		Probation:     150,
		Suppress:      50,
		SurpriseRate:  0.05,
		SurpriseWarm:  2,
		SurpriseQuiet: 1,
		AlarmRef:      0.5,
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Sensitivity < 0 || c.Sensitivity > 1 || math.IsNaN(c.Sensitivity) {
		return fmt.Errorf("sensitivity: %v is outside [0,1]", c.Sensitivity)
	}
	if c.Probation < 0 {
		return fmt.Errorf("probation: %d is negative", c.Probation)
	}
	if c.Suppress < 0 {
		return fmt.Errorf("suppress: %d is negative", c.Suppress)
	}
	if !(c.SurpriseRate >= 0 && c.SurpriseRate <= 1) {
		return fmt.Errorf("surprise rate: %v is outside [0,1]", c.SurpriseRate)
	}
	if !(c.SurpriseWarm >= 0) || math.IsInf(float64(c.SurpriseWarm), 0) {
		return fmt.Errorf("surprise warm-up: %v is negative or infinite", c.SurpriseWarm)
	}
	if !(c.AlarmRef > 0 && c.AlarmRef <= 1) {
		return fmt.Errorf("alarm reference: %v is outside (0,1]", c.AlarmRef)
	}
	if !(c.SurpriseQuiet >= 0) || math.IsInf(float64(c.SurpriseQuiet), 0) {
		return fmt.Errorf("surprise quiet span: %v is negative or infinite", c.SurpriseQuiet)
	}
	return nil
}

// Detector scores one series. It is not safe for concurrent use.
type Detector struct {
	cfg  Config
	s    state
	last explanation
}

// explanation is what Explain reports beyond the state, which holds the
// last match and the expected value (kept out of the Detector so it fits
// Go's 896-byte size class).
type explanation struct {
	raw        float32
	outOfRange bool
}

// Explanation says what made the last score.
type Explanation struct {
	// Raw is the score before the sensitivity's calibration.
	Raw float64
	// Match is how well the last closed window fitted its best category
	// (1 a perfect fit); 0 in probation.
	Match float64
	// OutOfRange is set when the value lay beyond the range seen so far.
	OutOfRange bool
	// Expected is the value the detector's baseline predicted: the running
	// median of its levels, or in probation the recent block average.
	Expected float64
}

// Explain describes the last Update.
func (d *Detector) Explain() Explanation {
	e := d.last
	return Explanation{Raw: float64(e.raw), Match: float64(d.s.LastMatch), OutOfRange: e.outOfRange, Expected: d.s.expected()}
}

// New returns a Detector for one series.
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *Detector) Config() Config { return d.cfg }

// Points is the number of values the detector has seen.
func (d *Detector) Points() uint64 { return uint64(d.s.Rows) }

// Update feeds the next value of the series and returns its anomaly score in
// [0,1]. It uses only this and earlier values. Values are taken in arrival
// order and t is not used: a late value is scored where it arrives. NaN and
// ±Inf are ignored and score 0; finite values beyond ±1e37 count as ±1e37.
// One or two extreme values do not widen the range the detector has seen
// (see state.seen), so they cannot hide later anomalies.
func (d *Detector) Update(t time.Time, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	raw, rangeHit := d.s.update(newGeom(d.cfg), v)
	if !(raw > 0) {
		raw = 0 // and NaN, which only a damaged state could yield
	}
	d.last = explanation{raw: float32(raw), outOfRange: rangeHit}
	return calibrate(raw, d.cfg.Sensitivity)
}

// calibrate applies the sensitivity: a higher one lifts every score above
// 0, a lower one lowers it; a value beyond the seen range (raw 1) scores
// 0.9 to 1. At 0.5 a score is 0.95 of the raw one, which puts the default
// threshold of 0.5 at raw 0.53, near the NAB-optimised threshold of the
// low-false-positive profile (about 0.52; 0.1 under the standard profile).
// The map is monotonic, so NAB's threshold sweep scores the same.
func calibrate(raw, sensitivity float64) float64 {
	if raw <= 0 {
		return 0
	}
	return (0.9 + 0.1*sensitivity) * math.Pow(raw, math.Exp2(1-2*sensitivity))
}
