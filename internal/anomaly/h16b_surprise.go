package anomaly

import (
	"fmt"
	"math"
)

// The surprise rule: a second, row-level detector beside the resonance
// model, after the likelihood idea of NAB's Numenta detector (an alarm
// when a short-term average of surprise is unlike the series' own) and
// the relative-entropy and contextual detectors (how unusual the recent
// values' distribution is), written for this detector's budget.
//
// After probation each value falls into one of spBins bins spread over the
// probation's range, padded by a quarter span on each side (values beyond
// go to the end bins; the out-of-range rule covers those). Its surprise is
// the log of the inverse share of its bin among the values binned so far
// (counts halved when they reach spCap, so the shares follow the series),
// and an exponential moving mean of it is the series' recent surprise. The
// rule alarms (raw score 1) when that mean exceeds the highest it has
// reached since the series left probation, once the rule has watched
// Config.SurpriseWarm probations (and spWatch time constants of the
// moving mean, so the highest has seen the mean's ordinary swings), and
// not within Config.SurpriseQuiet probations of any
// earlier alarm (Config.SurpriseQuiet probations). The threshold is the series' own history, like the
// out-of-range rule's, so it is calibrated per series without a constant
// that depends on the series' values: a spike train that turns dense, a
// level the series visited rarely and now keeps, an idle series gone busy.
const (
	spBins   = 16   // value bins
	spPad    = 0.25 // spans of padding beyond the probation's range on each side
	spCap    = 2048 // binned values kept (counts halved when reached)
	spSettle = 1    // time constants of the moving mean (1/rate rows) before it counts toward the highest
	spWatch  = 4    // and before the rule may alarm, at least

	spRateDef  = 0.05 // default Config.SurpriseRate
	spWarmDef  = 2    // default Config.SurpriseWarm
	spQuietDef = 1    // default Config.SurpriseQuiet
)

// surprise is the rule's state.
type surprise struct {
	Cnt   [spBins]uint16 // values per bin
	Tot   uint32         // their sum
	N     uint32         // rows binned (saturating)
	Short float32        // moving mean surprise
	Max   float32        // its highest since it settled
}

// update bins v, the value of row (0-based, after probation), and returns
// the rule's raw score, 0 or 1; a is the detector's state, whose probation
// range sets the bins and whose last alarm (of any rule) keeps the rule
// quiet for Config.SurpriseQuiet probations.
func (p *surprise) update(g geom, a *state, row uint32, v float64) float64 {
	if g.spRate == 0 || a.DScale == 0 {
		return 0
	}
	span := float64(a.DScale) / 3
	lo := float64(a.DMin) + span*(1-spPad)
	f := (v - lo) / (span * (1 + 2*spPad)) * spBins
	b := 0
	if f > 0 { // and not NaN
		b = int(min(f, spBins-1))
	}
	s := math.Log((float64(p.Tot) + spBins*0.5) / (float64(p.Cnt[b]) + 0.5))
	if p.Cnt[b] == math.MaxUint16 || p.Tot >= spCap {
		p.Tot = 0
		for i := range p.Cnt {
			p.Cnt[i] /= 2
			p.Tot += uint32(p.Cnt[i])
		}
	}
	p.Cnt[b]++
	p.Tot++
	if p.N < math.MaxUint32 {
		p.N++
	}
	short := float64(p.Short) + g.spRate*(s-float64(p.Short))
	if p.N == 1 {
		short = s
	}
	p.Short = float32(short)
	score := 0.0
	if p.N > g.spWarm && p.Short > p.Max && (a.LastAlarm == 0 || row+1-a.LastAlarm >= g.spQuiet) {
		score = 1
	}
	if p.N >= g.spSettle {
		p.Max = max(p.Max, p.Short)
	}
	return score
}

// check refuses a surprise state no update could have written.
func (p *surprise) check() error {
	var tot uint32
	for _, c := range p.Cnt {
		tot += uint32(c)
	}
	if tot != p.Tot || tot > spCap {
		return fmt.Errorf("surprise counts sum to %d, total %d (at most %d)", tot, p.Tot, spCap)
	}
	if !(p.Short >= 0 && p.Short <= spMaxSurprise) || !(p.Max >= 0 && p.Max <= spMaxSurprise) {
		return fmt.Errorf("surprise %v / %v outside [0,%v]", p.Short, p.Max, spMaxSurprise)
	}
	return nil
}

// spMaxSurprise bounds a surprise: the log of the largest total update
// leaves (spCap: it halves the counts there) over the smallest count, 0.5.
// A state claiming more (a highest mean no series could reach, which would
// silence the rule for good) is refused.
var spMaxSurprise = float32(math.Log((spCap + spBins*0.5) / 0.5))
