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
		Suppress:    int(suppTmp),
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

var (
	peakMargin  = 0.1
	direct      = 0.0
	vMode       = 0.0
	qP, qLR, q0 = 0.0, 0.05, 3.0
	vSmooth     = 1.0
	seasOn      = 0.5
	wV, wD, wS  = 1.0, 1.0, 3.0
	suppTmp     = 200.0
	peakDecay   = 0.0
	dampFactor  = 0.2
	sdFloor     = 0.25
	shortW      = 1.0
	longA       = 1.0 / 2000
)

const (
	winLen   = 64  // recent window of values (ring)
	nDay     = 24  // hour-of-day bins
	nWeek    = 168 // hour-of-week bins
	nSignals = 3
	shortLen = 8 // ring of recent raw signals for the likelihood's short mean
)

// Signals, indices into the per-signal arrays.
const (
	sigValue = iota
	sigDiff
	sigSpread
)

// binStat is one seasonal bin: a running level and typical absolute residual.
type binStat struct {
	Mean, Dev float32
	N         uint16
	_         uint16
}

// sigStat is the long-run distribution of one raw signal, and of its short
// mean, plus its recent values.
type sigStat struct {
	Mean, Var   float64
	SMean, SVar float64
	Recent      [shortLen]float32
}

// state is everything a Detector remembers; fixed-size so it can be
// marshalled with encoding/binary and bounded per series.
type state struct {
	N         uint64 // points seen
	LastUnix  int64  // last timestamp (unix seconds)
	FirstUnix int64  // first timestamp
	Prev      float64
	PrevRes   float64
	Ring      [winLen]float64 // recent values, Ring[N%winLen] is the oldest
	RingRes   [winLen]float32 // recent residuals against the seasonal profile
	DevEW     float64         // long-run typical |u - median| (scale floor)
	DevEWRes  float64
	MADEW     float64 // long-run typical local MAD
	MADEWRes  float64
	DiffEW    float64 // long-run typical |diff|
	DiffEWRes float64
	Level     float64 // EW mean (for the seasonality test)
	ResFlat   float64 // EW |x - Level|
	ResDay    float64 // EW |x - day profile|
	ResWeek   float64 // EW |x - week profile|
	QZ        [2]float64
	Peak      float64 // highest recent score (suppression)
	Damp      uint32  // points left before Peak is forgotten
	Seasonal  uint8   // 0 none, 1 daily, 2 weekly
	_         [3]uint8
	Sig       [nSignals]sigStat
	Day       [nDay]binStat
	Week      [nWeek]binStat
}

// Detector scores one series. It is not safe for concurrent use.
type Detector struct {
	cfg  Config
	s    state
	buf  [winLen]float64 // scratch for medians, not state
	last Explanation
}

// Explanation says which signals made the last score.
type Explanation struct {
	Value, Diff, Spread float64 // raw signals: robust z of value and difference, log spread ratio
	Likelihood          [3]float64
	Seasonal            int // 0 none, 1 hour-of-day, 2 hour-of-week profile in use
}

// Explain describes the last Update.
func (d *Detector) Explain() Explanation { return d.last }

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
	hod := t.UTC().Hour()
	how := int(t.UTC().Weekday())*24 + hod
	if n == 0 {
		s.FirstUnix = s.LastUnix
		d.seed(v)
		s.Prev = v
		s.Ring[0] = v
		return 0
	}

	// Residual against the seasonal profile (computed always, used when the
	// profile explains the series much better than a flat level).
	res := v - float64(s.Day[hod].Mean)
	if s.ResWeek < 0.8*s.ResDay {
		res = v - float64(s.Week[how].Mean)
	}
	d.updateSeasonal(n)
	useRes := s.Seasonal != 0

	m := int(min(n, winLen))
	var med, mad, u, prev, devEW, madEW, diffEW float64
	if useRes {
		med, mad = d.medMAD32(m)
		u, prev, devEW, madEW, diffEW = res, s.PrevRes, s.DevEWRes, s.MADEWRes, s.DiffEWRes
	} else {
		med, mad = d.medMAD(m)
		u, prev, devEW, madEW, diffEW = v, s.Prev, s.DevEW, s.MADEW, s.DiffEW
	}
	tiny := 1e-9*math.Abs(v) + 1e-12
	scale := math.Max(1.4826*mad, math.Max(0.5*devEW, tiny))
	zVal := math.Abs(u-med) / scale
	if vMode == 1 {
		us := u
		k := int(vSmooth)
		if k > 1 && m >= k {
			for j := 1; j < k; j++ {
				idx := (int(n) - j) % winLen
				if useRes {
					us += float64(s.RingRes[idx])
				} else {
					us += s.Ring[idx]
				}
			}
			us /= float64(k)
		}
		zVal = math.Abs(us-med) / math.Max(1.25*devEW, tiny)
	} else if vMode == 2 {
		zVal = math.Abs(u-med) / math.Max(1.4826*mad, math.Max(1.25*devEW, tiny))
	}
	diff := u - prev
	zDiff := math.Abs(diff) / math.Max(1.25*diffEW, math.Max(0.5*devEW, tiny))
	spread := 0.0
	if m >= 16 {
		fl := 0.1*devEW + tiny
		// A quieter window counts less than a noisier one: quiet spells
		// are common, and a flat line is caught by the value signal when
		// it departs from the usual level.
		spread = math.Max(math.Log((mad+fl)/(madEW+fl)), -0.5*math.Log((madEW+fl)/(mad+fl)))
		spread = math.Abs(spread)
	}

	raw := [nSignals]float64{math.Log1p(zVal), math.Log1p(zDiff), spread}
	score := 0.0
	for i := range raw {
		d.last.Likelihood[i] = d.likelihood(i, raw[i], n)
		score = math.Max(score, d.last.Likelihood[i])
	}
	if direct > 0 {
		zq := d.calibrate(0, zVal)
		zDiff = d.calibrate(1, zDiff)
		x := math.Max(wV*zq, math.Max(wD*zDiff, wS*spread))
		score = x / (x + 10)
	}
	d.last.Value, d.last.Diff, d.last.Spread, d.last.Seasonal = zVal, zDiff, spread, int(s.Seasonal)

	// Learn, winsorised so that a flagged outlier barely moves the baselines.
	d.learn(v, res, n, hod, how)
	s.Prev, s.PrevRes = v, res
	s.Ring[n%winLen] = v
	s.RingRes[n%winLen] = float32(res)

	if n < uint64(d.cfg.Probation) {
		return 0
	}
	return d.suppress(score)
}

// updateSeasonal decides, with hysteresis, whether a profile is in use.
func (d *Detector) updateSeasonal(n uint64) {
	s := &d.s
	if s.LastUnix-s.FirstUnix < 2*86400 || n < 48 {
		return
	}
	best := math.Min(s.ResDay, s.ResWeek) / math.Max(s.ResFlat, 1e-300)
	switch {
	case s.Seasonal == 0 && best < seasOn:
		s.Seasonal = 1
	case s.Seasonal != 0 && best > 0.7:
		s.Seasonal = 0
	}
	if s.Seasonal != 0 {
		s.Seasonal = 1
		if s.ResWeek < 0.8*s.ResDay {
			s.Seasonal = 2
		}
	}
}

// likelihood turns raw signal x into a score: how unusual x, and the mean of
// the recent raw values, are under their long-run mean and variance.
func (d *Detector) likelihood(i int, x float64, n uint64) float64 {
	st := &d.s.Sig[i]
	st.Recent[n%shortLen] = float32(x)
	cnt := min(n, shortLen)
	var sum float64
	for j := uint64(0); j < cnt; j++ {
		sum += float64(st.Recent[j])
	}
	short := sum / float64(cnt)
	z1 := (x - st.Mean) / (math.Sqrt(st.Var) + sdFloor)
	z2 := (short - st.SMean) / (math.Sqrt(st.SVar) + sdFloor)
	learnMoments(&st.Mean, &st.Var, x, n)
	learnMoments(&st.SMean, &st.SVar, short, n)
	if n < 32 {
		return 0
	}
	z := math.Max(z1, shortW*z2)
	if z <= 0 {
		return 0
	}
	// -log10 of the Gaussian tail, squashed into [0,1).
	lq := negLog10Tail(z) * (0.5 + d.cfg.Sensitivity) // factor 1 at the default
	return lq / (lq + 10)
}

// learnMoments updates an exponentially weighted mean and variance, with the
// input winsorised at mean+3sd once warmed up.
func learnMoments(mean, vr *float64, x float64, n uint64) {
	a := math.Max(1/float64(n+1), longA)
	if n > 32 {
		if hi := *mean + 3*math.Sqrt(*vr); x > hi {
			x = hi
		}
	}
	dx := x - *mean
	*mean += a * dx
	*vr = (1 - a) * (*vr + a*dx*dx)
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

func (d *Detector) learn(v, res float64, n uint64, hod, how int) {
	s := &d.s
	a := math.Max(1/float64(n+1), 1.0/1000)
	m := int(min(n, winLen))
	med, mad := d.medMAD(m)
	learnScale(&s.DevEW, &s.MADEW, &s.DiffEW, v, s.Prev, med, mad, a, n)
	med, mad = d.medMAD32(m)
	learnScale(&s.DevEWRes, &s.MADEWRes, &s.DiffEWRes, res, s.PrevRes, med, mad, a, n)

	// Seasonality evidence: residuals against flat level and profiles,
	// measured before the profiles learn this point.
	lim := 5*s.DevEW + 1e-12
	clip := func(r float64) float64 { return math.Min(math.Abs(r), lim) }
	as := 1.0 / 500
	s.ResFlat += as * (clip(v-s.Level) - s.ResFlat)
	s.ResDay += as * (clip(v-float64(s.Day[hod].Mean)) - s.ResDay)
	s.ResWeek += as * (clip(v-float64(s.Week[how].Mean)) - s.ResWeek)
	s.Level += (1.0 / 200) * (v - s.Level)
	learnBin(&s.Day[hod], v, 0.1)
	learnBin(&s.Week[how], v, 0.2)
}

func learnScale(devEW, madEW, diffEW *float64, u, prev, med, mad, a float64, n uint64) {
	dev := math.Abs(u - med)
	ad := math.Abs(u - prev)
	if n > 32 {
		// Winsorise, but let a scale stuck at zero (a flat or mostly-zero
		// series) still learn a little from each burst.
		dev = math.Min(dev, math.Max(5**devEW, 0.1*dev))
		ad = math.Min(ad, math.Max(5**diffEW, 0.1*ad))
	}
	*devEW += a * (dev - *devEW)
	*madEW += a * (mad - *madEW)
	*diffEW += a * (ad - *diffEW)
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

// suppress keeps one alarm per event whatever threshold a user picks: a
// score passes at full strength only if it clearly beats the highest score of
// the last Suppress points; otherwise it is damped.
func (d *Detector) suppress(score float64) float64 {
	s := &d.s
	if s.Damp == 0 {
		s.Peak = 0
	} else {
		s.Damp--
	}
	s.Peak *= 1 - peakDecay
	out := score
	if score <= s.Peak+peakMargin*(1-s.Peak) {
		out = score * dampFactor
	}
	if score > s.Peak {
		s.Peak = score
		s.Damp = uint32(d.cfg.Suppress)
	}
	return out
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

// medMAD32 is medMAD over the residual ring.
func (d *Detector) medMAD32(m int) (float64, float64) {
	b := d.buf[:m]
	for i := range b {
		b[i] = float64(d.s.RingRes[i])
	}
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

// negLog10Tail is -log10 of the standard normal upper tail at z > 0, using
// the asymptotic form where Erfc underflows.
func negLog10Tail(z float64) float64 {
	if z < 30 {
		return -math.Log10(0.5 * math.Erfc(z/math.Sqrt2))
	}
	return (z*z/2 + math.Log(z*math.Sqrt(2*math.Pi))) / math.Ln10
}

func (d *Detector) calibrate(i int, z float64) float64 {
	s := &d.s
	if qP <= 0 {
		return z
	}
	if s.QZ[i] == 0 {
		s.QZ[i] = q0
	}
	zq := z / math.Max(1, s.QZ[i]/q0)
	if z > s.QZ[i] {
		s.QZ[i] *= math.Exp(qLR * qP)
	} else {
		s.QZ[i] *= math.Exp(-qLR * (1 - qP))
	}
	return zq
}
