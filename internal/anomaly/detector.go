// Package anomaly is the streaming anomaly detector behind the tenantanomaly
// connector: one small Detector per (tenant, feature) series turns each new
// value into a score in [0,1], online and without look-ahead.
//
// Each update compares the value with the median of a short recent window,
// measured in units of the series' long-run typical deviation, and the first
// difference with its long-run typical size. When an hour-of-day or
// hour-of-week profile explains the series much better than a flat level,
// both run on the residual against that profile instead, so a daily peak is
// normal but a daily pattern that stops is not. Each signal is divided by a
// running estimate of its own 99.9th percentile (so a bursty series does not
// alarm on every burst), the stronger one is squashed into [0,1) (a value
// beyond the whole range seen so far by a margin scores at least 0.75 at
// the default sensitivity), and a score
// is damped unless it beats the strongest alarm of the last Suppress points:
// one event, one alarm. Baselines learn winsorised values, so a flagged
// outlier barely moves them, and all state is fixed-size (see StateSize):
// under 1 KiB per series, with the recent values in float32, the recent
// residuals and the week profile in bfloat16 and saturating 8-bit bin
// counters.
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
	// benchmarked setting, 1 doubles every signal, 0 halves it.
	Sensitivity float64
	// Probation is the number of first points of a series that always score 0
	// while the baselines learn.
	Probation int
	// Suppress is how many points after an alarm further scores are damped
	// unless they beat it (one event, one alarm).
	Suppress int
}

// DefaultConfig returns the configuration benchmarked on NAB v1.1.
func DefaultConfig() Config {
	return Config{
		Sensitivity: 0.5,
		Probation:   150,
		Suppress:    200,
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
	return nil
}

// Tuning benchmarked on NAB v1.1 (one setting for all files).
const (
	peakMargin  = 0.01  // a new alarm must beat the recent peak by this share of the headroom
	peakFloor   = 0.3   // scores below this never start a suppression span
	dampFactor  = 0.2   // suppressed scores are multiplied by this
	diffWeight  = 0.8   // weight of the difference signal against the value signal
	quantileP   = 0.999 // calibration quantile of each signal
	quantileLR  = 0.05  // log-step of the quantile tracker
	quantileRef = 5.0   // signal level that counts as ordinary at that quantile
	seasonalOn  = 0.5   // use a profile when its residual is below this share of the flat one
	seasonalOff = 0.7   // and stop when it rises above this share
	scoreHalf   = 10.0  // calibrated signal that maps to score 0.5 at sensitivity 0.5
	minSeasonal = 2 * 86400
	driftScale  = 2.0  // long-run deviations per unit of the drift signal
	weekAlpha   = 0.2  // learning rate of an hour-of-week bin
	rangeMargin = 0.05 // share of the seen range a value may exceed it by unflagged
	rangeMinDev = 1.0  // and at least this many typical deviations
	rangeSignal = 30.0 // calibrated signal of such a value (score 0.75 at sensitivity 0.5)
)

// The quantile tracker's steps up and down.
var (
	quantileUp   = math.Exp(quantileLR * quantileP)
	quantileDown = math.Exp(-quantileLR * (1 - quantileP))
)

const (
	winLen = 24  // recent window (ring) for the median
	nDay   = 24  // hour-of-day bins
	nWeek  = 168 // hour-of-week bins
)

// binStat is one seasonal bin: a running level and typical absolute residual.
type binStat struct {
	Mean, Dev float32
}

// state is everything a Detector remembers. It is fixed-size so that it is
// bounded per series and marshals with encoding/binary.
type state struct {
	N         uint64 // points seen
	FirstUnix int64  // first timestamp (unix seconds)
	LastUnix  int64  // latest timestamp
	Prev      float64
	PrevRes   float64
	Ring      [winLen]float32 // recent values; Ring[N%winLen] is the oldest
	RingRes   [winLen]uint16  // recent residuals against the seasonal profile, bfloat16
	DevEW     float64         // long-run typical |x - recent median|
	DevEWRes  float64         // the same for residuals
	DiffEW    float64         // long-run typical |first difference|
	DiffEWRes float64
	Level     float64    // slow EW mean, for the seasonality test
	ResFlat   float64    // EW |x - Level|
	ResDay    float64    // EW |x - hour-of-day profile|
	ResWeek   float64    // EW |x - hour-of-week profile|
	Quant     [2]float32 // running 99.9th percentiles of the value and difference signals
	Peak      float32    // strongest recent alarm
	Damp      uint32     // points left before Peak is forgotten
	Lo, Hi    float32    // lowest and highest value seen
	Seasonal  uint8      // 0 none, 1 hour-of-day, 2 hour-of-week profile in use
	_         [3]uint8
	Day       [nDay]binStat
	DayN      [nDay]uint8 // points each day bin has learned, saturating
	// Week holds each hour-of-week bin's level as its difference from the
	// hour-of-day bin, in bfloat16: the weekly effect is small beside the
	// level, so 8 bits of mantissa lose little, and 168 bins fit in 336 B.
	Week [nWeek]uint16
}

// Detector scores one series. It is not safe for concurrent use.
type Detector struct {
	cfg  Config
	s    state
	last explanation
}

// explanation is Explanation as a Detector keeps it: the signals in float32,
// which is all a reader of them needs, to keep the Detector small.
type explanation struct {
	expected         float64
	value, diff, raw float32
	seasonal         uint8
}

// Explanation says what made the last score.
type Explanation struct {
	Value    float64 // value signal: |x - recent median| / long-run deviation
	Diff     float64 // difference signal: |diff| / long-run typical difference
	Seasonal int     // 0 none, 1 hour-of-day, 2 hour-of-week profile in use
	Raw      float64 // score before suppression
	// Expected is the value the detector's baseline predicted: the recent
	// median, plus the seasonal profile's level when a profile is in use.
	Expected float64
}

// Explain describes the last Update.
func (d *Detector) Explain() Explanation {
	e := d.last
	return Explanation{Value: float64(e.value), Diff: float64(e.diff), Seasonal: int(e.seasonal), Raw: float64(e.raw), Expected: e.expected}
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
func (d *Detector) Points() uint64 { return d.s.N }

// Update feeds the next value of the series and returns its anomaly score in
// [0,1]. It uses only this and earlier values. Values are taken in arrival
// order: t only picks the value's hour-of-day and hour-of-week bins, so a
// late value is scored where it arrives. NaN and ±Inf are ignored and
// score 0.
func (d *Detector) Update(t time.Time, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	s := &d.s
	n := s.N
	s.N++
	if u := t.Unix(); n == 0 || u > s.LastUnix {
		s.LastUnix = u
	}
	hod := t.UTC().Hour()
	how := int(t.UTC().Weekday())*24 + hod
	if n == 0 {
		s.FirstUnix = s.LastUnix
		d.seed(v)
		s.Prev = v
		s.Ring[0] = float32(v)
		return 0
	}

	// Residual against the seasonal profile; always kept, used when the
	// profile explains the series much better than a flat level.
	res := v - float64(s.Day[hod].Mean)
	if s.ResWeek < 0.8*s.ResDay {
		res = v - d.weekMean(hod, how)
	}
	d.updateSeasonal(n)

	m := int(min(n, winLen))
	medV, medR := d.median(m), d.median32(m)
	med, u, prev, devEW, diffEW := medV, v, s.Prev, s.DevEW, s.DiffEW
	if s.Seasonal != 0 {
		med, u, prev, devEW, diffEW = medR, res, s.PrevRes, s.DevEWRes, s.DiffEWRes
	}
	tiny := 1e-9*math.Abs(v) + 1e-12
	zVal := math.Abs(u-med) / math.Max(1.25*devEW, tiny)
	zDiff := math.Abs(u-prev) / math.Max(1.25*diffEW, math.Max(0.5*devEW, tiny))
	x := math.Max(d.calibrate(0, zVal), diffWeight*d.calibrate(1, zDiff))
	if s.Seasonal == 0 && n > 2*winLen {
		// Drift: the recent median against the slow level, for ramps the
		// short window follows.
		zDrift := math.Abs(med-s.Level) / math.Max(driftScale*s.DevEW, tiny)
		x = math.Max(x, zDrift)
	}
	// A value beyond everything seen so far, by a margin, is an anomaly
	// whatever the signals' calibration says: HTM's detector on NAB scores
	// such values 1.0. The margin is at least one typical deviation, so a
	// noisy series' slowly widening range does not alarm on its own.
	lo, hi := float64(s.Lo), float64(s.Hi)
	if margin := math.Max(rangeMargin*(hi-lo), rangeMinDev*1.25*s.DevEW); v > hi+margin || v < lo-margin {
		x = math.Max(x, rangeSignal)
	}
	x *= 0.5 + d.cfg.Sensitivity
	score := x / (x + scoreHalf)
	expected := med
	if s.Seasonal != 0 {
		expected = v - res + med // profile level plus the residuals' median
	}
	d.last = explanation{value: float32(zVal), diff: float32(zDiff), seasonal: s.Seasonal, raw: float32(score), expected: expected}

	d.learn(v, res, n, hod, how, medV, medR)
	s.Prev, s.PrevRes = v, res
	s.Ring[n%winLen] = float32(v)
	s.RingRes[n%winLen] = toBF16(float32(res))

	s.Lo, s.Hi = float32(math.Min(float64(s.Lo), v)), float32(math.Max(float64(s.Hi), v))
	if n < uint64(d.cfg.Probation) {
		return 0
	}
	return d.suppress(score)
}

// calibrate divides signal z by how far its running 99.9th percentile sits
// above an ordinary level, so bursty series need bigger bursts to alarm.
// The percentile tracker moves by bounded log-steps, so one outlier cannot
// poison it.
func (d *Detector) calibrate(i int, z float64) float64 {
	q := float64(d.s.Quant[i])
	if q == 0 {
		q = quantileRef
	}
	zq := z / math.Max(1, q/quantileRef)
	if z > q {
		q *= quantileUp
	} else {
		q *= quantileDown
	}
	d.s.Quant[i] = float32(q)
	return zq
}

// updateSeasonal decides, with hysteresis, whether a profile is in use. It
// needs two days of data.
func (d *Detector) updateSeasonal(n uint64) {
	s := &d.s
	if s.LastUnix-s.FirstUnix < minSeasonal || n < 48 {
		return
	}
	best := math.Min(s.ResDay, s.ResWeek) / math.Max(s.ResFlat, 1e-300)
	switch {
	case s.Seasonal == 0 && best < seasonalOn:
		s.Seasonal = 1
	case s.Seasonal != 0 && best > seasonalOff:
		s.Seasonal = 0
	}
	if s.Seasonal != 0 {
		s.Seasonal = 1
		if s.ResWeek < 0.8*s.ResDay {
			s.Seasonal = 2
		}
	}
}

// weekMean is the level of hour-of-week bin how (hour-of-day hod).
func (d *Detector) weekMean(hod, how int) float64 {
	return float64(d.s.Day[hod].Mean) + float64(fromBF16(d.s.Week[how]))
}

// toBF16 rounds f to bfloat16 (the top half of a float32, round to even).
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

func fromBF16(u uint16) float32 { return math.Float32frombits(uint32(u) << 16) }

func (d *Detector) seed(v float64) {
	s := &d.s
	s.Level = v
	s.Lo, s.Hi = float32(v), float32(v)
	for i := range s.Day {
		s.Day[i].Mean = float32(v)
	}
}

// learn updates the baselines with winsorised values; medV and medR are the
// medians of the recent values and residuals before this point.
func (d *Detector) learn(v, res float64, n uint64, hod, how int, medV, medR float64) {
	s := &d.s
	a := math.Max(1/float64(n+1), 1.0/1000)
	learnScale(&s.DevEW, &s.DiffEW, v, s.Prev, medV, a, n)
	learnScale(&s.DevEWRes, &s.DiffEWRes, res, s.PrevRes, medR, a, n)

	// Seasonality evidence: residuals against a flat level and the profiles,
	// measured before the profiles learn this point.
	lim := 5*s.DevEW + 1e-12
	clip := func(r float64) float64 { return math.Min(math.Abs(r), lim) }
	const as = 1.0 / 500
	s.ResFlat += as * (clip(v-s.Level) - s.ResFlat)
	s.ResDay += as * (clip(v-float64(s.Day[hod].Mean)) - s.ResDay)
	week := d.weekMean(hod, how)
	s.ResWeek += as * (clip(v-week) - s.ResWeek)
	s.Level += (1.0 / 200) * (v - s.Level)
	// The week bin learns as the day bin does, winsorised by the day bin's
	// spread, and is stored again against the day bin's new level.
	// Its visits are counted by the weeks the series spans, as the bin
	// keeps no counter of its own.
	visits := float64((s.LastUnix - s.FirstUnix) / (7 * 86400))
	r := v - week
	if visits >= 3 {
		lim = 4*float64(s.Day[hod].Dev) + 1e-12
		r = math.Max(-lim, math.Min(lim, r))
	}
	week += math.Max(1/(visits+1), weekAlpha) * r
	learnBin(&s.Day[hod], &s.DayN[hod], v, 0.1)
	s.Week[how] = toBF16(float32(week - float64(s.Day[hod].Mean)))
}

func learnScale(devEW, diffEW *float64, u, prev, med, a float64, n uint64) {
	dev := math.Abs(u - med)
	ad := math.Abs(u - prev)
	if n > 32 {
		// Winsorise, but let a scale stuck at zero (a flat or mostly-zero
		// series) still learn a little from each burst.
		dev = math.Min(dev, math.Max(5**devEW, 0.1*dev))
		ad = math.Min(ad, math.Max(5**diffEW, 0.1*ad))
	}
	*devEW += a * (dev - *devEW)
	*diffEW += a * (ad - *diffEW)
}

func learnBin(b *binStat, n *uint8, v float64, minAlpha float64) {
	a := math.Max(1/(float64(*n)+1), minAlpha)
	mean, dev := float64(b.Mean), float64(b.Dev)
	r := v - mean
	if *n >= 3 {
		lim := 4*dev + 1e-12
		r = math.Max(-lim, math.Min(lim, r))
	}
	mean += a * r
	dev += a * (math.Abs(r) - dev)
	b.Mean, b.Dev = float32(mean), float32(dev)
	if *n < math.MaxUint8 {
		*n++
	}
}

// suppress keeps one alarm per event whatever threshold a user picks: a
// score passes at full strength only if it beats the strongest alarm of the
// last Suppress points; otherwise it is damped.
func (d *Detector) suppress(score float64) float64 {
	s := &d.s
	if s.Damp == 0 {
		s.Peak = 0
	} else {
		s.Damp--
	}
	peak := float64(s.Peak)
	out := score
	if score <= peak+peakMargin*(1-peak) {
		out = score * dampFactor
	}
	if score > peak && score >= peakFloor {
		s.Peak = float32(score)
		s.Damp = uint32(d.cfg.Suppress)
	}
	return out
}

// median returns the median of the last m values. The scratch copy lives
// on the stack, not in the Detector, so it costs no memory per series.
func (d *Detector) median(m int) float64 {
	var buf [winLen]float64
	b := buf[:m]
	for i := range b {
		b[i] = float64(d.s.Ring[i])
	}
	return median(b)
}

// median32 is median over the residual ring.
func (d *Detector) median32(m int) float64 {
	var buf [winLen]float64
	b := buf[:m]
	for i := range b {
		b[i] = float64(fromBF16(d.s.RingRes[i]))
	}
	return median(b)
}

// median reorders b and returns its median, by quickselect: the sort it
// replaced was three quarters of an Update.
func median(b []float64) float64 {
	n := len(b)
	if n == 0 {
		return 0
	}
	k := n / 2
	selectK(b, k)
	hi := b[k]
	if n%2 == 1 {
		return hi
	}
	lo := b[0]
	for _, x := range b[1:k] {
		lo = max(lo, x)
	}
	return 0.5 * (lo + hi)
}

// less is 1 if a < b, else 0; the compiler makes it a flag set, no branch.
func less(a, b float64) int {
	if a < b {
		return 1
	}
	return 0
}

// selectK reorders b so that b[k] is its k-th smallest element, every
// element before it is no larger and every one after it no smaller.
func selectK(b []float64, k int) {
	l, r := 0, len(b)-1
	for r > l {
		// Median of three as the pivot, moved to b[r].
		m := l + (r-l)/2
		if b[m] < b[l] {
			b[m], b[l] = b[l], b[m]
		}
		if b[r] < b[l] {
			b[r], b[l] = b[l], b[r]
		}
		if b[m] < b[r] {
			b[m], b[r] = b[r], b[m]
		}
		// Lomuto partition without a data-dependent branch: the swap always
		// happens and i advances only past values below the pivot, which
		// halves the cost on noisy data where the branch mispredicts.
		p := b[r]
		i := l
		for j := l; j < r; j++ {
			t := b[j]
			b[j] = b[i]
			b[i] = t
			i += less(t, p)
		}
		b[i], b[r] = b[r], b[i]
		switch {
		case k < i:
			r = i - 1
		case k > i:
			l = i + 1
		default:
			return
		}
	}
}
