// Package anomaly is the streaming anomaly detector behind the tenantanomaly
// processor: one small Detector per (tenant, feature) series turns each new
// value into a score in [0,1], online and without look-ahead.
//
// Each update runs a few cheap detectors and takes the strongest signal:
//
//   - a robust z-score of the value against the median/MAD of a recent window,
//     or against an hour-of-day / hour-of-week profile when the series has such
//     seasonality (so a daily peak is normal, but a daily pattern that stops is not);
//   - a robust z-score of the first difference (sudden jumps, drops to zero);
//   - a change of spread: recent MAD against the long-run typical MAD
//     (variance bursts, a noisy series that goes flat).
//
// Each raw signal is judged against its own long-run distribution (an
// "anomaly likelihood" as in Numenta's HTM detector) so that scores mean the
// same on quiet and noisy series. Scores are suppressed for a while after a
// detection, because one event should raise one alarm. All state lives in
// fixed-size arrays (see StateSize); baselines are updated with winsorised
// values so the outliers a detector flags do not become its new normal.
package anomaly

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config tunes a Detector. The zero value is not useful; start from
// DefaultConfig. The defaults are the setting benchmarked on NAB.
type Config struct {
	// Sensitivity in [0,1] shifts how readily scores rise: 0.5 is the
	// benchmarked setting, higher flags smaller deviations, lower only large ones.
	Sensitivity float64
	// Probation is the number of first points of a series that always score 0
	// while the baselines learn.
	Probation int
	// Suppress is how many points after a strong score further scores are
	// damped (one event, one alarm).
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

const (
	winLen   = 64  // recent window of values (ring)
	nDay     = 24  // hour-of-day bins
	nWeek    = 168 // hour-of-week bins
	nSignals = 4
	shortLen = 8 // ring of recent raw signals for the likelihood's short mean
)

// Signals, indices into the per-signal arrays.
const (
	sigValue = iota
	sigDiff
	sigSpread
	sigSeason
)

// binStat is one seasonal bin: a running level and typical absolute residual.
type binStat struct {
	Mean, Dev float32
	N         uint16
	_         uint16
}

// sigStat is the long-run distribution of one raw signal and its recent values.
type sigStat struct {
	Mean, Var float64
	Recent    [shortLen]float32
}

// state is everything a Detector remembers; fixed-size so it can be
// marshalled with encoding/binary and bounded per series.
type state struct {
	N        uint64 // points seen
	LastUnix int64  // last timestamp (unix seconds)
	Prev     float64
	Ring     [winLen]float64 // recent values, Ring[N%winLen] is the oldest
	DevEW    float64         // long-run typical |x - median| (scale floor)
	MADEW    float64         // long-run typical local MAD
	DiffEW   float64         // long-run typical |diff|
	Level    float64         // EW mean (for the seasonality test)
	ResFlat  float64         // EW |x - Level|
	ResDay   float64         // EW |x - day profile|
	ResWeek  float64         // EW |x - week profile|
	Peak     float64         // decaying recent max score (suppression)
	Damp     uint32          // points of damping left after a strong score
	_        uint32
	Sig      [nSignals]sigStat
	Day      [nDay]binStat
	Week     [nWeek]binStat
}

// Detector scores one series. It is not safe for concurrent use.
type Detector struct {
	cfg Config
	s   state
	buf [winLen]float64 // scratch for medians, not state
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

var errNotFinite = errors.New("value is not finite")

// Update feeds the next value of the series (timestamps should not go
// backwards) and returns its anomaly score in [0,1]. NaN and ±Inf are
// ignored and score 0.
func (d *Detector) Update(t time.Time, v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	s := &d.s
	n := s.N
	s.N++
	s.LastUnix = t.Unix()
	if n == 0 {
		d.seed(v)
		s.Prev = v
		s.Ring[0] = v
		return 0
	}
	hod := t.UTC().Hour()
	how := int(t.UTC().Weekday())*24 + hod

	// Local model: median and MAD of the recent window.
	m := int(min(n, winLen))
	med, mad := d.medMAD(m)
	floor := math.Max(0.05*s.DevEW, 1e-9*math.Abs(med)+1e-12)
	scale := math.Max(1.4826*mad, floor)
	zVal := math.Abs(v-med) / scale

	// First difference against its long-run typical size.
	diff := v - s.Prev
	zDiff := math.Abs(diff) / math.Max(1.25*s.DiffEW, floor)

	// Spread: recent MAD against its long-run typical value (two-sided).
	spread := 0.0
	if m >= 16 && s.MADEW > 0 {
		r := (mad + floor) / (s.MADEW + floor)
		spread = math.Abs(math.Log(r))
	}

	// Seasonal residual, used when a profile explains the series much better
	// than a flat level does.
	zSeason := 0.0
	ratioDay := s.ResDay / math.Max(s.ResFlat, 1e-300)
	ratioWeek := s.ResWeek / math.Max(s.ResFlat, 1e-300)
	seasonal := false
	if n > 2*24*12 {
		b := &s.Day[hod]
		if ratioWeek < 0.8*ratioDay {
			b = &s.Week[how]
		}
		if b.N >= 3 && math.Min(ratioDay, ratioWeek) < 0.6 {
			seasonal = true
			zSeason = math.Abs(v-float64(b.Mean)) / math.Max(1.25*float64(b.Dev), floor)
		}
	}
	if seasonal {
		// A seasonal series moves with its profile; judge its level there.
		zVal = math.Min(zVal, zSeason)
	}

	raw := [nSignals]float64{math.Log1p(zVal), math.Log1p(zDiff), spread, math.Log1p(zSeason)}
	score := 0.0
	for i := range raw {
		score = math.Max(score, d.likelihood(i, raw[i], n))
	}

	// Learn, winsorised so that a flagged outlier barely moves the baselines.
	d.learn(v, med, mad, diff, hod, how, n)
	s.Prev = v
	s.Ring[n%winLen] = v

	if n < uint64(d.cfg.Probation) {
		return 0
	}
	return d.suppress(score)
}

// likelihood turns raw signal x into a score: how unusual the mean of the
// recent raw values is under the signal's long-run mean and variance.
func (d *Detector) likelihood(i int, x float64, n uint64) float64 {
	st := &d.s.Sig[i]
	k := n % shortLen
	st.Recent[k] = float32(x)
	cnt := min(n, shortLen)
	var sum float64
	for j := uint64(0); j < cnt; j++ {
		sum += float64(st.Recent[j])
	}
	short := sum / float64(cnt)
	if n < 32 {
		d.learnSig(st, x, n)
		return 0
	}
	sd := math.Sqrt(st.Var) + 1e-3
	z := (short - st.Mean) / sd
	d.learnSig(st, x, n)
	if z <= 0 {
		return 0
	}
	// -log10 of the Gaussian tail, mapped into [0,1].
	q := 0.5 * math.Erfc(z/math.Sqrt2)
	var lq float64
	if q > 1e-300 {
		lq = -math.Log10(q)
	} else {
		lq = 300
	}
	sens := 0.5 + d.cfg.Sensitivity // 1 at the default
	return math.Min(1, lq*sens/20)
}

func (d *Detector) learnSig(st *sigStat, x float64, n uint64) {
	a := math.Max(1/float64(n+1), 1.0/2000)
	if n > 32 {
		if hi := st.Mean + 3*math.Sqrt(st.Var); x > hi {
			x = hi
		}
	}
	dx := x - st.Mean
	st.Mean += a * dx
	st.Var = (1 - a) * (st.Var + a*dx*dx)
}

func (d *Detector) seed(v float64) {
	s := &d.s
	s.Level = v
	for i := range s.Day {
		s.Day[i].Mean = float32(v)
	}
	for i := range s.Week {
		s.Week[i].Mean = float32(v)
	}
}

func (d *Detector) learn(v, med, mad, diff float64, hod, how int, n uint64) {
	s := &d.s
	a := math.Max(1/float64(n+1), 1.0/1000)
	dev := math.Abs(v - med)
	if n > 32 {
		dev = math.Min(dev, 5*s.DevEW+1e-12)
	}
	s.DevEW += a * (dev - s.DevEW)
	s.MADEW += a * (mad - s.MADEW)
	ad := math.Abs(diff)
	if n > 32 {
		ad = math.Min(ad, 5*s.DiffEW+1e-12)
	}
	s.DiffEW += a * (ad - s.DiffEW)

	// Seasonality evidence: residuals against flat level and profiles,
	// measured before the profiles learn this point.
	lim := 5*s.DevEW + 1e-12
	clip := func(r float64) float64 { return math.Min(math.Abs(r), lim+math.Abs(v-med)) }
	as := 1.0 / 500
	s.ResFlat += as * (clip(v-s.Level) - s.ResFlat)
	s.ResDay += as * (clip(v-float64(s.Day[hod].Mean)) - s.ResDay)
	s.ResWeek += as * (clip(v-float64(s.Week[how].Mean)) - s.ResWeek)
	s.Level += (1.0 / 200) * (v - s.Level)
	learnBin(&s.Day[hod], v, 0.1)
	learnBin(&s.Week[how], v, 0.2)
}

func learnBin(b *binStat, v float64, minAlpha float64) {
	a := math.Max(1/float64(b.N+1), minAlpha)
	mean, dev := float64(b.Mean), float64(b.Dev)
	r := v - mean
	if b.N >= 3 {
		lim := 4*dev + 1e-12
		r = math.Max(-lim, math.Min(lim, r))
	}
	mean += a * r
	dev += a * (math.Abs(r) - dev)
	b.Mean, b.Dev = float32(mean), float32(dev)
	if b.N < math.MaxUint16 {
		b.N++
	}
}

// suppress damps scores after a strong one: only a score clearly above the
// decaying recent peak passes at full strength.
func (d *Detector) suppress(score float64) float64 {
	s := &d.s
	if s.Damp > 0 {
		f := 1 - float64(s.Damp)/float64(d.cfg.Suppress)
		s.Damp--
		return score * f * f
	}
	if score >= 0.5 {
		s.Damp = uint32(d.cfg.Suppress)
	}
	return score
}

// medMAD returns the median and the median absolute deviation of the last m
// values.
func (d *Detector) medMAD(m int) (float64, float64) {
	b := d.buf[:m]
	copy(b, d.s.Ring[:m])
	med := median(b)
	for i := range b {
		b[i] = math.Abs(b[i] - med)
	}
	return med, median(b)
}

// median sorts b in place (insertion sort: b is at most winLen long).
func median(b []float64) float64 {
	for i := 1; i < len(b); i++ {
		x := b[i]
		j := i - 1
		for j >= 0 && b[j] > x {
			b[j+1] = b[j]
			j--
		}
		b[j+1] = x
	}
	n := len(b)
	if n%2 == 1 {
		return b[n/2]
	}
	return 0.5 * (b[n/2-1] + b[n/2])
}
