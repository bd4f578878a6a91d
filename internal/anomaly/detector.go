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
// visited bins of the series' range more than ever before. The resonance
// model's alarms count relative to the series' earlier ones, so a series
// whose alarms have been confident needs more to alarm again, and after a
// strong alarm the model stays quiet for a while (Config.Quiet). All state
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
	// range may not alarm again (one event, one alarm), unless it lies
	// beyond every value seen by as much again as they span (another
	// event).
	Suppress int
	// Quiet is how many of the model's steps (blocks of Probation/104
	// points) after an alarm of raw score QuietLevel or more the window
	// model may not alarm: one event, one alarm, and none while the model
	// settles after it. 0 is the default, 24; negative turns it off; at
	// most 255.
	Quiet int
	// QuietLevel is the raw score from which an alarm starts the quiet
	// span; 0 is the default, 0.4.
	QuietLevel float64
	// AlarmRef and AlarmRate set how the window model's alarms count
	// relative to the series' earlier ones: where the moving mean
	// confidence of its alarms (rate AlarmRate, starting at AlarmRef)
	// exceeds AlarmRef, a new alarm's confidence is scaled by AlarmRef
	// over it; AlarmRef 1 turns the scaling off. 0 is the default, 0.5
	// and 0.2.
	AlarmRef, AlarmRate float64
	// SurpriseRate is the weight of each new point in the surprise rule's
	// moving mean surprise (see h16b_surprise.go); 0 is the default, 0.05;
	// negative turns the rule off.
	SurpriseRate float64
	// SurpriseWarm is how many probations of points after probation the
	// surprise rule watches before it may alarm; 0 is the default, 2;
	// negative is none (the rule still waits four time constants of its
	// moving mean). At most 655, kept in hundredths.
	SurpriseWarm float64
	// SurpriseQuiet is how many probations of points after any alarm the
	// surprise rule stays quiet; 0 is the default, 1; negative is none. At
	// most 655, kept in hundredths.
	SurpriseQuiet float64
}

// DefaultConfig returns the configuration benchmarked on NAB v1.1 (where
// each file's Probation is NAB's probationary period instead).
func DefaultConfig() Config {
	return Config{
		Sensitivity:   0.5,
		Probation:     150,
		Suppress:      50,
		Quiet:         artQuiet,
		QuietLevel:    artQuietLvl,
		AlarmRef:      artConfRef,
		AlarmRate:     artConfRate,
		SurpriseRate:  spRateDef,
		SurpriseWarm:  spWarmDef,
		SurpriseQuiet: spQuietDef,
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
	if c.Quiet > math.MaxUint8 {
		return fmt.Errorf("quiet: %d is above %d", c.Quiet, math.MaxUint8)
	}
	if c.QuietLevel < 0 || !(c.QuietLevel <= 1) {
		return fmt.Errorf("quiet level: %v is outside [0,1]", c.QuietLevel)
	}
	if c.AlarmRef < 0 || !(c.AlarmRef <= 1) {
		return fmt.Errorf("alarm reference: %v is outside [0,1]", c.AlarmRef)
	}
	if c.AlarmRate < 0 || !(c.AlarmRate <= 1) {
		return fmt.Errorf("alarm rate: %v is outside [0,1]", c.AlarmRate)
	}
	if !(c.SurpriseRate <= 1) {
		return fmt.Errorf("surprise rate: %v is above 1", c.SurpriseRate)
	}
	if !(c.SurpriseWarm <= maxCenti) {
		return fmt.Errorf("surprise warm-up: %v is above %v probations", c.SurpriseWarm, maxCenti)
	}
	if !(c.SurpriseQuiet <= maxCenti) {
		return fmt.Errorf("surprise quiet span: %v is above %v probations", c.SurpriseQuiet, maxCenti)
	}
	return nil
}

// Detector scores one series. It is not safe for concurrent use.
type Detector struct {
	set  settings
	s    state
	last explanation
}

// settings is a Config as a Detector keeps it, defaults filled in, in 32
// bytes (Config's 104 would take the Detector past Go's 896-byte size
// class, and 10,000 tenants' detectors 12 MiB further): the probation and
// suppression spans capped at 1<<30 rows (the counters are 32-bit), the
// quiet span as 0 (off) to 255, the shares in [0,1] in units of 1e-4 (the
// surprise rate 0 for off) and the surprise rule's spans in hundredths of
// a probation.
type settings struct {
	sensitivity                     float64
	probation, suppress             int32
	quietLevel, alarmRef, alarmRate uint16
	spRate, spWarm, spQuiet         uint16
	quiet                           uint8
}

const (
	milli    = 1e4    // units of a share in settings
	centi    = 100    // units of a probation in settings
	maxCenti = 655.35 // the longest span in probations settings keep
)

func toMilli(f float64) uint16   { return uint16(math.Round(max(0, min(1, f)) * milli)) }
func fromMilli(u uint16) float64 { return float64(u) / milli }
func toCenti(f float64) uint16   { return uint16(math.Round(max(0, min(maxCenti, f)) * centi)) }
func fromCenti(u uint16) float64 { return float64(u) / centi }

// newSettings is a valid cfg as a Detector keeps it.
func newSettings(c Config) settings {
	s := settings{sensitivity: c.Sensitivity,
		probation: int32(max(0, min(c.Probation, 1<<30))), suppress: int32(max(0, min(c.Suppress, 1<<30))),
		quiet: artQuiet, quietLevel: toMilli(artQuietLvl), alarmRef: toMilli(artConfRef), alarmRate: toMilli(artConfRate),
		spRate: toMilli(spRateDef), spWarm: toCenti(spWarmDef), spQuiet: toCenti(spQuietDef)}
	switch {
	case c.Quiet < 0:
		s.quiet = 0
	case c.Quiet > 0:
		s.quiet = uint8(min(c.Quiet, math.MaxUint8))
	}
	if c.QuietLevel > 0 {
		// Not 0, which every score reaches: the quiet span would restart
		// at every update and the window model never alarm again.
		s.quietLevel = max(1, toMilli(c.QuietLevel))
	}
	if c.AlarmRef > 0 {
		s.alarmRef = max(1, toMilli(c.AlarmRef))
	}
	if c.AlarmRate > 0 {
		s.alarmRate = max(1, toMilli(c.AlarmRate))
	}
	switch {
	case c.SurpriseRate < 0:
		s.spRate = 0
	case c.SurpriseRate > 0:
		s.spRate = max(1, toMilli(c.SurpriseRate))
	}
	switch {
	case c.SurpriseWarm < 0:
		s.spWarm = 0
	case c.SurpriseWarm > 0:
		s.spWarm = toCenti(c.SurpriseWarm)
	}
	switch {
	case c.SurpriseQuiet < 0:
		s.spQuiet = 0
	case c.SurpriseQuiet > 0:
		s.spQuiet = toCenti(c.SurpriseQuiet)
	}
	return s
}

// config is s as a Config.
func (s settings) config() Config {
	c := Config{Sensitivity: s.sensitivity, Probation: int(s.probation), Suppress: int(s.suppress),
		Quiet: int(s.quiet), QuietLevel: fromMilli(s.quietLevel), AlarmRef: fromMilli(s.alarmRef), AlarmRate: fromMilli(s.alarmRate),
		SurpriseRate: fromMilli(s.spRate), SurpriseWarm: fromCenti(s.spWarm), SurpriseQuiet: fromCenti(s.spQuiet)}
	if s.quiet == 0 {
		c.Quiet = -1
	}
	if s.spRate == 0 {
		c.SurpriseRate = -1
	}
	if s.spWarm == 0 {
		c.SurpriseWarm = -1
	}
	if s.spQuiet == 0 {
		c.SurpriseQuiet = -1
	}
	return c
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
	return &Detector{set: newSettings(cfg)}, nil
}

// Config returns the detector's configuration, defaults filled in (a
// Quiet of 0 is 24; the quiet span turned off is -1, and so are the
// surprise rule turned off and its spans of none), spans capped at 1<<30,
// shares rounded to 1e-4 and the surprise rule's spans to hundredths of a
// probation.
func (d *Detector) Config() Config { return d.set.config() }

// Points is the number of values the detector has seen.
func (d *Detector) Points() uint64 { return uint64(d.s.Rows) }

// Update feeds the next value of the series and returns its anomaly score in
// [0,1]. It uses only this and earlier values. Values are taken in arrival
// order and t is not used: a late value is scored where it arrives. NaN and
// ±Inf are ignored and score 0; finite values beyond ±1e37 count as ±1e37.
// One or two extreme values do not widen the range the detector has seen
// (see state.seen), so they cannot hide later anomalies; only within the
// refractory span after an alarm must a value pass them too, by as much
// again as all values span, to alarm (state.escalates).
func (d *Detector) Update(t time.Time, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	raw, rangeHit := d.s.update(d.set.geom(), v)
	if !(raw > 0) {
		raw = 0 // and NaN, which only a damaged state could yield
	}
	d.last = explanation{raw: float32(raw), outOfRange: rangeHit}
	return calibrate(raw, d.set.sensitivity)
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
