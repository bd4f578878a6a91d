package anomaly

import (
	"encoding/binary"
	"math"
)

// The resonance detector: a fuzzy adaptive-resonance model over short
// windows of a downsampled series, after the ideas of ARTime (NAB's ARTime
// detector, markNZed/ARTimeNAB.jl), written anew for a fixed state of under
// 1 KiB and without its look-ahead: ARTime scales by the whole file's range,
// this by the probation's.
//
// Rows are grouped into blocks of about Probation/104 rows; each block keeps
// its most extreme value (a spike survives downsampling). Block values are
// scaled into 80 levels by the probation's range padded by one span on each
// side (never clamped: a value far outside is far from every category), and
// snapped to the running median level when within 6 levels of it. A feature
// vector is the last 8 levels plus the 8 Haar coefficients of their shape.
// Categories are boxes in that space; a window that fits no category at the
// lower vigilance opens a new cluster, and only that can alarm, by how far
// below vigilance it fell. The two vigilances follow the typical match, and
// masks after an alarm or a new category keep one event to one alarm. With
// 16 categories at most, the two whose union box is smallest are merged
// when a new one is needed.
const (
	artWin       = 8              // levels per window
	artDims      = 2 * artWin     // levels plus Haar coefficients
	artCats      = 16             // categories kept
	artLevels    = 80             // levels per padded range
	artPerProb   = 104            // blocks the probation is cut into
	artBuf       = 128            // probation blocks buffered (in the category area)
	artSnap      = 0.075          // share of the range snapped to the median
	artRhoInit   = 0.8            // vigilance of the throwaway model that sets the first one
	artMask      = artWin * 3 / 2 // blocks masked after an alarm
	artUbCap     = 0.97           // highest upper vigilance
	artCodeUnit  = 100            // feature codes per unit
	artCodeOff   = 78             // code of feature value 0
	artRing      = 64             // entries of the match ring
	artWinOff    = 64             // offset of a level in Win
	artRangeMar  = 0.05           // share of the seen range a value may exceed it by unflagged
	artRangeFew  = 2              // and this many ranges divided by the points seen
	artRangeFew2 = 100            // and this many divided by its square
	artEscalate  = 1              // spans of the seen range beyond it that alarm within the refractory span
	artMinSpan   = 1e-4           // smallest probation span, relative to the values
	artExtremes  = 3              // highest and lowest values kept each
	artIsolated  = 10             // gap, in spreads of the rest, that isolates an extreme
	artClamp     = 1e37           // values are clamped to ±artClamp: 3 spans of it fit float32
	artConfRef   = 0.5            // default Config.AlarmRef
	artConfRate  = 0.2            // default Config.AlarmRate
	artQuiet     = 24             // default Config.Quiet
	artQuietLvl  = 0.4            // default Config.QuietLevel
)

// box is one category: per dimension the lowest and highest feature code it
// has learned.
type box struct {
	Lo, Hi [artDims]uint8
}

// state is the resonance detector's fixed-size state.
type state struct {
	Rows      uint32 // rows seen
	Blocks    uint32 // blocks closed
	LastAlarm uint32 // row of the last alarm + 1 (0: none)
	BlockN    uint32 // rows in the open block
	BlockSum  float64
	BlockMin  float32
	BlockMax  float32
	BlockMA   float32 // moving average of block means
	// Top and Bot are the artExtremes highest values seen, highest first,
	// and the lowest, lowest first. The range is theirs less the isolated
	// extremes (see seen): one or two values far beyond the rest do not
	// widen it, so they cannot blind the out-of-range rule for good.
	Top       [artExtremes]float32
	Bot       [artExtremes]float32
	DMin      float32 // value of level 0 (probation range padded)
	DScale    float32 // value span of artLevels levels
	RhoLb     float32
	RhoUb     float32
	UbMean    float32 // mean match, the upper vigilance
	UbN       uint32
	HistSum   float32 // matches of past alarms but the last
	HistLast  float32 // match of the last alarm (lowered while masked)
	HistN     uint32
	LastAnom  uint32 // block of the last alarm
	LastSim   float32
	LastMatch float32 // best match of the last window
	AlarmConf float32 // moving mean confidence of the window model's alarms (0: none yet)
	LastRho   uint32  // block of the last vigilance update
	SimN      uint32  // entries written to Sims
	NoNewCat  uint16
	MedLevel  int16
	Below     uint16 // median histogram counts below and above MedLevel
	Above     uint16
	SimCur    uint8 // lowest match of the open Sims entry
	SimK      uint8 // blocks in the open Sims entry
	MaskCat   uint8
	NCats     uint8
	// Sims holds the recent best matches, /255, one entry per block (per
	// two when the trend window is longer than the ring): their minimum
	// over half a trend window and their shortfall from the upper
	// vigilance over a whole one move the lower vigilance.
	Sims [artRing]uint8
	Win  [artWin]uint8 // last levels, + artWinOff
	Hist [artLevels + 1]uint8
	WinN uint8 // levels in Win, up to artWin
	// Quiet is the block closes left in which window alarms score 0,
	// after an alarm of at least the configured quiet level.
	Quiet uint8
	_     uint8
	Sp    surprise     // the surprise rule (h16b_surprise.go)
	Cats  [artCats]box // in probation: the last artBuf block values, float32
}

// geom is what the configuration fixes: rows per block, the blocks of the
// probation (the trend window), the rows of the probation, the rows after
// an alarm an out-of-range value stays quiet, the block closes after a
// strong alarm the window model stays quiet and the raw score that makes
// an alarm strong, the relative scaling's reference and rate (see
// relative), and the surprise rule's rate, the rows it watches before it
// alarms, the rows after an alarm it stays quiet and the rows before its
// moving mean counts toward its highest.
type geom struct {
	step, trend, prob, refractory, quiet uint32
	spWarm, spQuiet, spSettle            uint32
	quietLevel, confRef, confRate        float64
	spRate                               float64
}

func newGeom(c Config) geom { return newSettings(c).geom() }

func (s settings) geom() geom {
	p := max(int(s.probation), 1)
	step := max(1, p/artPerProb)
	g := geom{step: uint32(step), trend: uint32(p / step), prob: uint32(p), refractory: uint32(s.suppress),
		quiet: uint32(s.quiet), quietLevel: fromMilli(s.quietLevel), confRef: fromMilli(s.alarmRef), confRate: fromMilli(s.alarmRate),
		spQuiet: uint32(min(fromCenti(s.spQuiet)*float64(p), math.MaxUint32)), spRate: fromMilli(s.spRate)}
	if g.spRate > 0 {
		// The moving mean's time constant, in rows.
		tc := 1 / g.spRate
		g.spSettle = uint32(min(spSettle*tc, math.MaxUint32))
		g.spWarm = uint32(min(max(fromCenti(s.spWarm)*float64(p), spWatch*tc), math.MaxUint32))
	}
	return g
}

// update feeds one row; it returns the raw score and whether the value lay
// beyond the range seen.
func (a *state) update(g geom, v float64) (float64, bool) {
	row := a.Rows
	a.Rows++
	// Finite values beyond float32's reach are clamped, so no state holds
	// an infinity and three spans of any range fit a float32.
	v = max(-artClamp, min(artClamp, v))
	if row == 0 {
		a.extremes(0, float32(v))
	}
	score := 0.0
	lo, hi := a.seen()
	// The margin widens when few points have been seen: the range of n
	// points falls short of the series' own by about 1/n of it, and the
	// range of a handful of points (a short probation) says little; the
	// second term is gone after a few hundred points.
	n := float64(row + 1)
	m := (artRangeMar + artRangeFew/n + artRangeFew2/(n*n)) * (hi - lo)
	// The range is kept in float32: compare in float32 too, so a value
	// equal to its end is not beyond it by rounding.
	v32 := float64(float32(v))
	outside := v32 > hi+m || v32 < lo-m
	if row >= g.prob && outside && (a.LastAlarm == 0 || row+1-a.LastAlarm >= g.refractory || a.escalates(v32)) {
		// HTM's rule: a value beyond the range seen by a margin is an
		// anomaly, once per refractory span, unless it escalates.
		score = 1
	}
	a.extremes(row, float32(v))
	// Block accumulation.
	if a.BlockN == 0 {
		a.BlockSum, a.BlockMin, a.BlockMax = 0, float32(v), float32(v)
	}
	a.BlockN++
	a.BlockSum += v
	a.BlockMin, a.BlockMax = min(a.BlockMin, float32(v)), max(a.BlockMax, float32(v))
	// At or past the block length and the trend window, not only exactly
	// at them: a state restored under another Probation must not stall.
	if a.BlockN >= g.step {
		ds := a.closeBlock(lo, hi)
		b := a.Blocks
		a.Blocks++
		switch {
		case a.DScale == 0: // in probation
			a.bufPut(b, ds)
			if b+1 >= g.trend {
				a.endProbation(g)
			}
		default:
			x, full := a.features(ds)
			ws := a.relative(g, a.detect(g, b+1, x, full))
			if a.Quiet > 0 {
				// Shortly after a strong alarm: the same event, or the
				// model still settling after it.
				a.Quiet--
				ws = 0
			}
			score = max(score, ws)
		}
	}
	if row >= g.prob {
		score = max(score, a.Sp.update(g, a, row, v))
	}
	if score > 0 {
		a.LastAlarm = row + 1
	}
	if score >= g.quietLevel && g.quiet > 0 {
		a.Quiet = uint8(g.quiet)
	}
	return score, outside
}

// expected is the value the model takes as typical: the median level, or in
// probation the recent block average.
func (a *state) expected() float64 {
	if a.DScale == 0 {
		if a.Blocks == 0 && a.BlockN > 0 {
			return a.BlockSum / float64(a.BlockN)
		}
		return float64(a.BlockMA)
	}
	return float64(a.DMin) + float64(a.MedLevel)/artLevels*float64(a.DScale)
}

// extremes files v, the value of the given row, among the highest and
// lowest values seen. Before artExtremes rows the entries not yet filled
// repeat the last filled one, and the new value takes their place, so the
// first value (an extreme as likely as any) is not counted thrice.
func (a *state) extremes(row uint32, v float32) {
	if row < artExtremes {
		if row == 0 {
			a.Top = [artExtremes]float32{v, v, v}
			a.Bot = a.Top
			return
		}
		for i := row; i < artExtremes; i++ {
			a.Top[i], a.Bot[i] = -math.MaxFloat32, math.MaxFloat32
		}
	}
	if v > a.Top[artExtremes-1] {
		i := artExtremes - 1
		for ; i > 0 && v > a.Top[i-1]; i-- {
			a.Top[i] = a.Top[i-1]
		}
		a.Top[i] = v
	}
	if v < a.Bot[artExtremes-1] {
		i := artExtremes - 1
		for ; i > 0 && v < a.Bot[i-1]; i-- {
			a.Bot[i] = a.Bot[i-1]
		}
		a.Bot[i] = v
	}
	for i := row + 1; i < artExtremes; i++ {
		a.Top[i], a.Bot[i] = a.Top[row], a.Bot[row]
	}
}

// escalates reports a value beyond every value seen, isolated extremes
// (the last alarm's own value among them) included, by as much again as
// they span: within a refractory span that is another event, not the one
// alarmed going on. A consumer that takes a failed member's tenants over
// reads their backlog at once, which alarms; a real spike seconds later
// must alarm too.
func (a *state) escalates(v float64) bool {
	t, b := float64(a.Top[0]), float64(a.Bot[0])
	return v > t+artEscalate*(t-b) || v < b-artEscalate*(t-b)
}

// seen is the range of the values seen, less isolated extremes: the
// highest values are dropped down to the first one whose gap to the next
// exceeds artIsolated times the next one's distance from the lowest kept
// values (Dixon's gap test), the lowest likewise. One or two values (a
// glitch, an overflow) cannot widen it; a third of their size joins them
// and the range takes them in, as it does a new level, a few rows after
// the shift.
func (a *state) seen() (lo, hi float64) {
	t0, t1, t2 := float64(a.Top[0]), float64(a.Top[1]), float64(a.Top[2])
	b0, b1, b2 := float64(a.Bot[0]), float64(a.Bot[1]), float64(a.Bot[2])
	switch {
	case t1-t2 > artIsolated*(t2-b2):
		hi = t2
	case t0-t1 > artIsolated*(t1-b2):
		hi = t1
	default:
		hi = t0
	}
	switch {
	case b2-b1 > artIsolated*(t2-b2):
		lo = b2
	case b1-b0 > artIsolated*(t2-b1):
		lo = b1
	default:
		lo = b0
	}
	if lo > hi {
		// Only in the first rows, when the kept values of each side are
		// those of the other too.
		return b0, t0
	}
	return lo, hi
}

// closeBlock returns the block's representative value: its extreme on the
// side farther from the recent block means, unless that is within 10% of
// the block mean. The moving average and the block mean it takes are held
// within artIsolated spans of the range seen (once it has a span), so an
// isolated extreme does not drag it off for the hundred blocks it would
// take to halve away.
func (a *state) closeBlock(lo, hi float64) float64 {
	n := float64(a.BlockN)
	a.BlockN = 0
	mean := a.BlockSum / n
	held, prev := mean, float64(a.BlockMA)
	if a.Blocks == 0 {
		prev = mean
	}
	if hi > lo {
		// Both, as the average may have taken a first value the range
		// has since isolated.
		held = max(min(mean, hi+artIsolated*(hi-lo)), lo-artIsolated*(hi-lo))
		prev = max(min(prev, hi+artIsolated*(hi-lo)), lo-artIsolated*(hi-lo))
	}
	ma := (prev + held) / 2
	a.BlockMA = float32(ma)
	mx, mn := float64(a.BlockMax), float64(a.BlockMin)
	ds := mx
	if math.Abs(mx-ma) < math.Abs(mn-ma) {
		ds = mn
	}
	if math.Abs(ds-mean) < 0.1*mean {
		ds = mean
	}
	return ds
}

// bufWord is the 4 bytes of the category area that buffer probation
// block b's value.
func (a *state) bufWord(b uint32) []uint8 {
	i := b % artBuf
	c := &a.Cats[i/8]
	k := i % 8
	if k < 4 {
		return c.Lo[4*k : 4*k+4]
	}
	return c.Hi[4*(k-4) : 4*(k-4)+4]
}

func (a *state) bufPut(b uint32, ds float64) {
	binary.LittleEndian.PutUint32(a.bufWord(b), math.Float32bits(float32(ds)))
}

func (a *state) bufGet(b uint32) float64 {
	return float64(math.Float32frombits(binary.LittleEndian.Uint32(a.bufWord(b))))
}

// endProbation fixes the scale from the probation's range, turns the
// buffered blocks into feature vectors, sets the first vigilance from a
// throwaway model and trains the real one on them without alarms.
func (a *state) endProbation(g geom) {
	lo, hi := a.seen()
	// A flat probation still gets a span, so the rounding noise of a
	// computed value (a quantile, a ratio) does not fill every level.
	span := math.Max(hi-lo, math.Max(artMinSpan*math.Max(math.Abs(lo), math.Abs(hi)), 1e-9))
	a.DMin = float32(lo - span)
	a.DScale = float32(3 * span)
	// The buffered blocks: the trend window's, or the last ones held if
	// it is longer than the buffer (or the state was restored under
	// another Probation).
	end := a.Blocks
	first := end - min(end, g.trend, artBuf)
	var xs [artBuf][artDims]uint8
	var ok [artBuf]bool
	n := 0
	for b := first; b < end; b++ {
		ds := a.bufGet(b)
		x, full := a.features(ds)
		xs[n], ok[n] = x, full
		n++
	}
	a.Cats = [artCats]box{}
	rho := initRho(xs[:n], ok[:n])
	a.RhoLb, a.RhoUb = float32(rho), float32(rho)
	for i := 0; i < n; i++ {
		// Block numbers as the real stream has them; the last replayed one
		// is the trend window's last.
		a.detect(g, end-uint32(n-1-i), xs[i], ok[i])
	}
}

// features scales block value ds into a level, snaps it to the median and
// returns the window's feature codes; full is false until the window has
// artWin levels.
func (a *state) features(ds float64) (x [artDims]uint8, full bool) {
	f := (ds - float64(a.DMin)) / float64(a.DScale)
	lv := math.Round(f * artLevels)
	lv = math.Max(-artCodeOff*artLevels/artCodeUnit, math.Min(lv, (255-artCodeOff)*artLevels/artCodeUnit))
	level := int(lv)
	med := a.median(level)
	if math.Abs(float64(level-med))/artLevels < artSnap {
		level = med
	}
	copy(a.Win[:], a.Win[1:])
	a.Win[artWin-1] = uint8(level + artWinOff)
	a.WinN = min(a.WinN+1, artWin)
	full = a.WinN >= artWin
	var w [artWin]float64
	lmin, lmax := math.Inf(1), math.Inf(-1)
	for i, l := range a.Win {
		w[i] = float64(int(l)-artWinOff) / artLevels
		lmin, lmax = min(lmin, w[i]), max(lmax, w[i])
	}
	var d [artWin]float64
	for i := range d {
		d[i] = w[i] - lmin
		if lmax > lmin {
			d[i] /= lmax - lmin
		}
	}
	h := haar8(d)
	hmin, hmax := h[0], h[0]
	for _, c := range h {
		hmin, hmax = min(hmin, c), max(hmax, c)
	}
	for i, c := range h {
		c -= hmin
		if hmax > hmin {
			c /= hmax - hmin
		}
		x[i] = code(c)
	}
	for i, l := range a.Win {
		x[artWin+i] = levelCodes[l]
	}
	return x, full
}

// levelCodes is the feature code of each level as Win holds it: what
// code gives for its value, looked up instead of rounded per block.
var levelCodes = func() (t [256]uint8) {
	for l := range t {
		t[l] = code(float64(l-artWinOff) / artLevels)
	}
	return t
}()

func code(f float64) uint8 {
	// Clamped without math's NaN-aware calls: this runs for every feature
	// of every block.
	c := math.Round(f*artCodeUnit) + artCodeOff
	if !(c > 0) {
		return 0
	}
	return uint8(min(c, 255))
}

func decode(c uint8) float32 { return (float32(c) - artCodeOff) / artCodeUnit }

// haar8 is the full orthonormal Haar transform of 8 values: the overall
// average first, then the details from coarse to fine, each the later half
// minus the earlier.
func haar8(x [8]float64) [8]float64 {
	const r = 1 / math.Sqrt2
	var a1, d1 [4]float64
	for k := range 4 {
		a1[k] = (x[2*k] + x[2*k+1]) * r
		d1[k] = (x[2*k+1] - x[2*k]) * r
	}
	a2 := [2]float64{(a1[0] + a1[1]) * r, (a1[2] + a1[3]) * r}
	d2 := [2]float64{(a1[1] - a1[0]) * r, (a1[3] - a1[2]) * r}
	return [8]float64{(a2[0] + a2[1]) * r, (a2[1] - a2[0]) * r, d2[0], d2[1], d1[0], d1[1], d1[2], d1[3]}
}

// median adds level to the histogram and returns the running median level.
func (a *state) median(level int) int {
	i := max(0, min(artLevels, level))
	if a.Below+a.Above+uint16(a.Hist[a.MedLevel]) == 0 {
		a.MedLevel = int16(i)
	}
	if a.Hist[i] == math.MaxUint8 {
		// Halve the counts, so the median follows a long series.
		a.Below, a.Above = 0, 0
		for k := range a.Hist {
			a.Hist[k] /= 2
			if k < int(a.MedLevel) {
				a.Below += uint16(a.Hist[k])
			} else if k > int(a.MedLevel) {
				a.Above += uint16(a.Hist[k])
			}
		}
	}
	a.Hist[i]++
	m := int(a.MedLevel)
	if i < m {
		a.Below++
	} else if i > m {
		a.Above++
	}
	half := (a.Below + a.Above + uint16(a.Hist[m])) / 2
	for a.Above > half && m < artLevels {
		a.Below += uint16(a.Hist[m])
		m++
		for m < artLevels && a.Hist[m] == 0 {
			m++
		}
		a.Above -= uint16(a.Hist[m])
	}
	for a.Below > half && m > 0 {
		a.Above += uint16(a.Hist[m])
		m--
		for m > 0 && a.Hist[m] == 0 {
			m--
		}
		a.Below -= uint16(a.Hist[m])
	}
	a.MedLevel = int16(m)
	return m
}

// match is the fuzzy-ART match of features x (as words, see words) to
// category c, with x's current level weighted in again (its "energy"), and
// that energy match. In code units, with feature value f coded as
// f*artCodeUnit+artCodeOff, the complement-coded |x∧w| of a box is
// Σ min(x,lo) - Σ max(x,hi) + artDims*artCodeUnit and |w| is
// Σ lo - Σ hi + artDims*artCodeUnit: integer sums, taken eight codes at a
// time.
func match(x *[2]uint64, c *box) (m, e float32) {
	lo0, lo1 := binary.LittleEndian.Uint64(c.Lo[0:8]), binary.LittleEndian.Uint64(c.Lo[8:16])
	hi0, hi1 := binary.LittleEndian.Uint64(c.Hi[0:8]), binary.LittleEndian.Uint64(c.Hi[8:16])
	ge0, ge1 := bytesGE(x[0], lo0), bytesGE(x[1], lo1)
	mn0, mn1 := (lo0&ge0)|(x[0]&^ge0), (lo1&ge1)|(x[1]&^ge1)
	ge0, ge1 = bytesGE(x[0], hi0), bytesGE(x[1], hi1)
	mx0, mx1 := (x[0]&ge0)|(hi0&^ge0), (x[1]&ge1)|(hi1&^ge1)
	num := byteDiff(mn0, mn1, mx0, mx1) + artDims*artCodeUnit
	den := byteDiff(lo0, lo1, hi0, hi1) + artDims*artCodeUnit
	e = energy(x, c)
	fs := float32(num) / max(float32(den), matchFloor)
	return fs * fs * fs * e * e, e
}

const matchFloor = 0.001 * artCodeUnit

// energy is the match of x's current level (its last code) alone. As
// num <= den, the shape factor of match is at most 1, so e*e bounds the
// match from above, in float32 rounding too (each product rounds
// monotonically): train skips a category that bound cannot bring to the
// best match or the upper vigilance.
func energy(x *[2]uint64, c *box) float32 {
	const ed = artDims - 1
	xe, lo, hi := int(x[1]>>56), int(c.Lo[ed]), int(c.Hi[ed])
	enum := min(xe, lo) - max(xe, hi) + artCodeUnit
	eden := lo - hi + artCodeUnit
	return float32(enum) / max(float32(eden), matchFloor)
}

const (
	bytesHigh = 0x8080808080808080
	bytesLow  = 0x7f7f7f7f7f7f7f7f
	lanes16   = 0x00ff00ff00ff00ff
)

// bytesGE is 0xff in each byte where a's byte is at least b's, else 0.
func bytesGE(a, b uint64) uint64 {
	t := (a | bytesHigh) - (b & bytesLow) // low 7 bits compared, no borrow across bytes
	ge := ((a &^ b) | (^(a ^ b) & t)) & bytesHigh
	return (ge >> 7) * 0xff
}

// byteSum is the sum of the sixteen bytes of a and b.
func byteSum(a, b uint64) int {
	return int((pairSums(a, b) * 0x0001000100010001) >> 48)
}

// pairSums adds the bytes of a and b into four 16-bit lanes (each at most
// 4*255).
func pairSums(a, b uint64) uint64 {
	return (a & lanes16) + ((a >> 8) & lanes16) + (b & lanes16) + ((b >> 8) & lanes16)
}

// byteDiff is the sum of the bytes of a0 and a1 less that of b0 and b1,
// with one multiply: each lane is offset by 1024 so it never borrows from
// the next.
func byteDiff(a0, a1, b0, b1 uint64) int {
	const bias = 0x0400040004000400
	y := pairSums(a0, a1) + bias - pairSums(b0, b1)
	return int((y*0x0001000100010001)>>48) - 4*0x400
}

// words packs feature codes eight to a word, first code lowest.
func words(xc *[artDims]uint8) [2]uint64 {
	return [2]uint64{binary.LittleEndian.Uint64(xc[:8]), binary.LittleEndian.Uint64(xc[8:])}
}

// artModel is the category memory and its vigilances, shared by the real
// model and the throwaway one that sets the first vigilance.
type artModel struct {
	cats   []box
	lb, ub float32
}

// train presents x. It returns whether x opened a new cluster (matched no
// category at the lower vigilance), the best match and its energy match.
// Every category matching at the upper vigilance grows to cover x; else x
// becomes a category of its own, merging the two closest when full.
func (m *artModel) train(xc *[artDims]uint8) (newCluster bool, best, bestE float32, cats []box) {
	x := words(xc)
	learned := false
	for i := range m.cats {
		c := &m.cats[i]
		if e := energy(&x, c); e*e <= best && e*e < m.ub {
			continue
		}
		mt, e := match(&x, c)
		if mt > best {
			best, bestE = mt, e
		}
		if mt >= m.ub {
			c.grow(&x)
			learned = true
		}
	}
	if learned {
		return false, best, bestE, m.cats
	}
	newCluster = len(m.cats) == 0 || best < m.lb
	if len(m.cats) == cap(m.cats) {
		mergeClosest(m.cats)
		m.cats = m.cats[:len(m.cats)-1]
	}
	m.cats = append(m.cats, box{Lo: *xc, Hi: *xc})
	return newCluster, best, bestE, m.cats
}

// grow widens c to cover x (words).
func (c *box) grow(x *[2]uint64) {
	c.cover(x[0], x[1], x[0], x[1])
}

// cover widens c to cover the box from lo to hi (words).
func (c *box) cover(lo0, lo1, hi0, hi1 uint64) {
	clo0, clo1 := binary.LittleEndian.Uint64(c.Lo[0:8]), binary.LittleEndian.Uint64(c.Lo[8:16])
	chi0, chi1 := binary.LittleEndian.Uint64(c.Hi[0:8]), binary.LittleEndian.Uint64(c.Hi[8:16])
	ge0, ge1 := bytesGE(lo0, clo0), bytesGE(lo1, clo1)
	binary.LittleEndian.PutUint64(c.Lo[0:8], (clo0&ge0)|(lo0&^ge0))
	binary.LittleEndian.PutUint64(c.Lo[8:16], (clo1&ge1)|(lo1&^ge1))
	ge0, ge1 = bytesGE(hi0, chi0), bytesGE(hi1, chi1)
	binary.LittleEndian.PutUint64(c.Hi[0:8], (hi0&ge0)|(chi0&^ge0))
	binary.LittleEndian.PutUint64(c.Hi[8:16], (hi1&ge1)|(chi1&^ge1))
}

// union is c's box widened to cover b's.
func (c *box) union(b *box) box {
	u := *c
	u.cover(binary.LittleEndian.Uint64(b.Lo[0:8]), binary.LittleEndian.Uint64(b.Lo[8:16]),
		binary.LittleEndian.Uint64(b.Hi[0:8]), binary.LittleEndian.Uint64(b.Hi[8:16]))
	return u
}

// width is the sum over dimensions of the box's extent.
func (c *box) width() int {
	return byteSum(binary.LittleEndian.Uint64(c.Hi[0:8]), binary.LittleEndian.Uint64(c.Hi[8:16])) -
		byteSum(binary.LittleEndian.Uint64(c.Lo[0:8]), binary.LittleEndian.Uint64(c.Lo[8:16]))
}

// mergeClosest merges the two categories whose union box is smallest into
// the first of them and moves the last category into the second's place.
func mergeClosest(cs []box) {
	bi, bj, bs := 0, 1, math.MaxInt
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			u := cs[i].union(&cs[j])
			if s := u.width(); s < bs {
				bi, bj, bs = i, j, s
			}
		}
	}
	cs[bi] = cs[bi].union(&cs[bj])
	cs[bj] = cs[len(cs)-1]
}

// initRho sets the first vigilance: a throwaway model at vigilance 0.8
// learns the probation's windows, least typical first, and the mean match
// over its second half is the vigilance.
func initRho(xs [][artDims]uint8, ok []bool) float64 {
	var idx [artBuf]int
	var sum [artBuf]float64
	var fs [artBuf][artDims]float64
	n := 0
	for i := range xs {
		if !ok[i] {
			continue
		}
		var nrm float64
		for d := range artDims {
			fs[n][d] = float64(decode(xs[i][d]))
			nrm += fs[n][d] * fs[n][d]
		}
		nrm = math.Sqrt(nrm)
		for d := range artDims {
			if nrm > 0 {
				fs[n][d] /= nrm
			}
		}
		idx[n] = i
		n++
	}
	if n == 0 {
		return artRhoInit
	}
	for i := range n {
		for j := range i {
			var dot float64
			for d := range artDims {
				dot += fs[i][d] * fs[j][d]
			}
			sum[i] += dot
			sum[j] += dot
		}
	}
	order := idx[:n]
	ss := sum[:n]
	// Insertion sort by similarity sum, ascending (n <= 128, once).
	for i := 1; i < n; i++ {
		for j := i; j > 0 && ss[j] < ss[j-1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	var mem [artBuf]box
	m := artModel{cats: mem[:0], lb: artRhoInit, ub: artRhoInit}
	var tot float64
	cnt := 0
	for k, i := range order {
		_, best, _, cats := m.train(&xs[i])
		m.cats = cats
		if k >= n/2 {
			tot += float64(best)
			cnt++
		}
	}
	return tot / float64(cnt)
}

// detect runs block b's window through the model and returns its score.
func (a *state) detect(g geom, b uint32, x [artDims]uint8, full bool) float64 {
	if !full {
		return 0
	}
	trend := g.trend
	afterAnom := b - a.LastAnom
	updAfterAnom := afterAnom == artMask
	updTrend := b-a.LastRho >= trend/2
	maskAnom := afterAnom <= artMask
	if b > trend+artMask && a.MaskCat != 0 && a.NoNewCat >= artMask {
		a.MaskCat = 0
	}
	m := artModel{cats: a.Cats[:a.NCats:artCats], lb: a.RhoLb, ub: a.RhoUb}
	newCluster, sim, simE, cats := m.train(&x)
	a.LastMatch = sim
	a.NCats = uint8(len(cats))
	if newCluster {
		a.NoNewCat = 0
	} else if a.NoNewCat < math.MaxUint16 {
		a.NoNewCat++
	}
	if a.UbN < 1<<20 {
		a.UbN++
	}
	a.UbMean += (sim - a.UbMean) / float32(a.UbN)
	a.pushSim(g, sim)
	if afterAnom < artMask && a.HistN > 0 && sim < a.HistLast {
		a.HistLast = sim
	}
	masking := a.MaskCat != 0 || maskAnom
	scale := float32(0.7)
	if maskAnom {
		scale = 0.9
	}
	score := 0.0
	if b > trend && newCluster && (!masking || sim < a.LastSim*scale) {
		score = confidence(sim, simE, a.RhoLb, a.RhoUb)
		if a.HistN > 0 {
			a.HistSum += a.HistLast
		}
		a.HistN++
		a.HistLast = sim
		a.LastSim = sim
		a.LastAnom = b
	}
	if newCluster {
		a.MaskCat = 1
	}
	if b > trend && (updAfterAnom || updTrend) {
		a.updateRho(g, b)
	}
	return score
}

// relative scales a window alarm's confidence c by the series' own alarm
// history, a threshold that adapts per series: where the mean confidence
// (a moving mean at rate g.confRate, from g.confRef) of its earlier
// alarms exceeds g.confRef (a series that keeps producing
// confident new shapes), c counts in proportion less, so one global
// threshold asks more of it; a series whose alarms have been rare or
// faint keeps its scores. The first alarm is taken as it is.
func (a *state) relative(g geom, c float64) float64 {
	if !(c > 0) {
		return c
	}
	prev := a.AlarmConf
	if prev == 0 {
		prev = float32(g.confRef)
	}
	a.AlarmConf = prev + float32(g.confRate)*(float32(c)-prev)
	return c * min(1, g.confRef/float64(prev))
}

// simsPer is the blocks per Sims entry: enough that a trend window fits.
func simsPer(g geom) uint32 { return (g.trend + artRing) / artRing }

func (a *state) pushSim(g geom, sim float32) {
	q := uint8(math.Floor(float64(max(0, min(1, sim))) * 255))
	if a.SimK == 0 {
		a.SimCur = q
	} else {
		a.SimCur = min(a.SimCur, q)
	}
	a.SimK++
	if uint32(a.SimK) >= simsPer(g) {
		a.Sims[a.SimN%artRing] = a.SimCur
		a.SimN++
		a.SimK = 0
	}
}

// recentSims calls f with the Sims entries covering the last blocks
// (rounded up to whole entries), newest first, the open entry included.
func (a *state) recentSims(g geom, blocks uint32, f func(q uint8)) {
	if a.SimK > 0 {
		f(a.SimCur)
	}
	n := min((blocks+simsPer(g)-1)/simsPer(g), a.SimN, artRing)
	for i := uint32(1); i <= n; i++ {
		f(a.Sims[(a.SimN-i)%artRing])
	}
}

func (a *state) updateRho(g geom, b uint32) {
	trend := g.trend
	// The lowest match over half a trend window (1 before any).
	q := uint8(255)
	a.recentSims(g, trend/2+1, func(s uint8) { q = min(q, s) })
	minSim := float32(q) / 255
	ub := min(float32(artUbCap), a.UbMean)
	lb := a.RhoLb
	if lb <= minSim {
		lb += (minSim - lb) * 0.19
	} else {
		// The mean shortfall of the matches from the upper vigilance
		// over a trend window, where it exceeds 0.05, capped at 0.37.
		decr := float32(0)
		if b > 2*trend {
			var sum float32
			n := 0
			a.recentSims(g, trend+1, func(s uint8) {
				if d := a.RhoUb - float32(s)/255; d > 0.05 {
					sum += min(0.37, d)
					n++
				}
			})
			if n > 0 {
				decr = sum / float32(n)
			}
		}
		decr = max(0.01, decr)
		lb -= decr / 2
		if a.HistN > 0 {
			lb = max(lb, (a.HistSum+a.HistLast)/float32(a.HistN))
		}
	}
	a.RhoLb, a.RhoUb = min(ub, lb), ub
	a.LastRho = b
	a.MaskCat = 1
}

// confidence scores a new cluster by how far its match fell below each
// vigilance and by its energy mismatch.
func confidence(sim, simE, lb, ub float32) float64 {
	s := float64(min(0.999, sim))
	u := (float64(ub) - s) / (1 - s)
	l := (float64(lb) - s) / (1 - s)
	return math.Max(0, math.Min(1, 0.35*u+0.65*l+1.5*(1-float64(simE))))
}
