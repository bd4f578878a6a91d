package nab

import (
	"fmt"
	"math"
	"sort"
)

// ProbationPercent is the share of each file (capped at 750 rows) that NAB
// drops from scoring so detectors can learn.
const ProbationPercent = 0.15

// ProbationLength is the number of leading rows of an n-row file that are not
// scored: min(floor(0.15 n), 0.15*5000).
func ProbationLength(n int) int {
	p := math.Floor(ProbationPercent * float64(n))
	return int(math.Min(p, ProbationPercent*5000))
}

// ScaledSigmoid is NAB's S(y): 2*sigmoid(-5y)-1, and -1 beyond y > 3.
func ScaledSigmoid(y float64) float64 {
	if y > 3.0 {
		return -1.0
	}
	return 2.0/(1.0+math.Exp(5.0*y)) - 1.0
}

// Point is one scored (non-probationary) row.
type Point struct {
	Score  float64 // detector's anomaly score
	Weight float64 // rowScore: what detecting this row is worth
	Window int     // corpus-wide window id, or -1 outside every window
}

// FilePoints computes the weighted row scores of one file and returns the
// non-probationary rows. Window ids are firstWindow + index of the window in
// the file. Timestamps must be in file order; every window end must exist.
func FilePoints(ts []string, scores []float64, windows []Window, firstWindow int, cm CostMatrix) ([]Point, error) {
	n := len(ts)
	if len(scores) != n {
		return nil, fmt.Errorf("%d timestamps but %d scores", n, len(scores))
	}
	idx := make(map[string]int, n)
	for i, t := range ts {
		idx[t] = i
	}
	type span struct{ l, r int }
	win := make([]span, len(windows))
	for k, w := range windows {
		l, ok1 := idx[w.Start]
		r, ok2 := idx[w.End]
		if !ok1 || !ok2 || r < l {
			return nil, fmt.Errorf("window [%s, %s] does not match the file's timestamps", w.Start, w.End)
		}
		win[k] = span{l, r}
	}
	prob := ProbationLength(n)
	maxTP := ScaledSigmoid(-1.0)
	pts := make([]Point, 0, n-prob)
	var prev *span
	cur, curID, next := (*span)(nil), -1, 0
	for i := 0; i < n; i++ {
		if cur == nil && next < len(win) && i == win[next].l {
			cur, curID = &win[next], firstWindow+next
			next++
		}
		p := Point{Score: scores[i], Window: -1}
		if cur != nil {
			w := float64(cur.r - cur.l + 1)
			p.Weight = ScaledSigmoid(-float64(cur.r-i+1)/w) * cm.TP / maxTP
			p.Window = curID
		} else if prev == nil {
			p.Weight = -1.0 * cm.FP
		} else {
			pos := math.Abs(float64(prev.r-i)) / float64(prev.r-prev.l)
			p.Weight = ScaledSigmoid(pos) * cm.FP
		}
		if i >= prob {
			pts = append(pts, p)
		}
		if cur != nil && i == cur.r {
			prev, cur = cur, nil
		}
	}
	return pts, nil
}

// ThresholdScore is the raw score of the detection rule score >= Threshold.
type ThresholdScore struct {
	Threshold float64
	Raw       float64
}

// Sweep returns the raw score at every distinct threshold, from 1.1 (nothing
// detected) down to the lowest anomaly score, in that order. pts is reordered.
func Sweep(pts []Point, cm CostMatrix) []ThresholdScore {
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Score > pts[j].Score })
	parts := map[int]float64{}
	for _, p := range pts {
		if p.Window >= 0 {
			parts[p.Window] = -cm.FN
		}
	}
	var windowSum, fp float64
	for range parts {
		windowSum -= cm.FN
	}
	thr := 1.1
	out := make([]ThresholdScore, 0, 64)
	for _, p := range pts {
		if p.Score != thr {
			out = append(out, ThresholdScore{thr, fp + windowSum})
			thr = p.Score
		}
		if p.Window < 0 {
			fp += p.Weight
		} else if old := parts[p.Window]; p.Weight > old {
			parts[p.Window] = p.Weight
			windowSum += p.Weight - old
		}
	}
	return append(out, ThresholdScore{thr, fp + windowSum})
}

// Best returns the threshold with the highest raw score (on ties the higher
// threshold, as NAB's optimiser does).
func Best(sweep []ThresholdScore) ThresholdScore {
	best := sweep[0]
	for _, s := range sweep[1:] {
		if s.Raw > best.Raw {
			best = s
		}
	}
	return best
}

// ScoreAt is the raw score of pts at a fixed threshold.
func ScoreAt(pts []Point, threshold float64, cm CostMatrix) float64 {
	parts := map[int]float64{}
	for _, p := range pts {
		if p.Window >= 0 {
			if _, ok := parts[p.Window]; !ok {
				parts[p.Window] = -cm.FN
			}
		}
	}
	var fp float64
	for _, p := range pts {
		if p.Score < threshold {
			continue
		}
		if p.Window < 0 {
			fp += p.Weight
		} else if p.Weight > parts[p.Window] {
			parts[p.Window] = p.Weight
		}
	}
	s := fp
	for _, v := range parts {
		s += v
	}
	return s
}

// Normalize maps a raw corpus score to the NAB scale: null detector 0,
// perfect detector 100. The null raw score is -FN * nWindows and the perfect
// one TP * nWindows.
func Normalize(raw float64, nWindows int, cm CostMatrix) float64 {
	null := -cm.FN * float64(nWindows)
	perfect := cm.TP * float64(nWindows)
	return 100 * (raw - null) / (perfect - null)
}

// Result is the corpus score of one detector under one profile.
type Result struct {
	Profile   string
	Threshold float64
	Raw       float64
	Score     float64 // normalised NAB score
	PerFile   map[string]FileScore
}

// FileScore is one file's share of a corpus Result.
type FileScore struct {
	Raw              float64
	Hit, Windows, FP int
}

// Detections maps a corpus file name to the detector's scores, one per row.
type Detections map[string][]float64

// Score optimises the threshold per profile over the whole corpus and returns
// the normalised scores. ts gives each file's timestamps (as in the data).
func (c *Corpus) Score(ts map[string][]string, det Detections, profiles []Profile) ([]Result, error) {
	out := make([]Result, 0, len(profiles))
	for _, prof := range profiles {
		var all []Point
		perFile := map[string][]Point{}
		base := 0
		for _, f := range c.Files {
			sc, ok := det[f]
			if !ok {
				return nil, fmt.Errorf("no detections for %s", f)
			}
			pts, err := FilePoints(ts[f], sc, c.Windows[f], base, prof.Costs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			base += len(c.Windows[f])
			perFile[f] = pts
			all = append(all, pts...)
		}
		best := Best(Sweep(all, prof.Costs))
		r := Result{Profile: prof.Name, Threshold: best.Threshold, Raw: best.Raw,
			Score: Normalize(best.Raw, c.NumWindows(), prof.Costs), PerFile: map[string]FileScore{}}
		for f, pts := range perFile {
			fs := FileScore{Raw: ScoreAt(pts, best.Threshold, prof.Costs)}
			fs.Hit, fs.Windows, fs.FP = Counts(pts, best.Threshold)
			r.PerFile[f] = fs
		}
		out = append(out, r)
	}
	return out, nil
}

// Counts summarises pts at a threshold: windows with a detection, windows in
// total, and detections outside every window (false positives).
func Counts(pts []Point, threshold float64) (hit, windows, fp int) {
	seen := map[int]bool{}
	for _, p := range pts {
		if p.Window >= 0 {
			if _, ok := seen[p.Window]; !ok {
				seen[p.Window] = false
			}
			if p.Score >= threshold {
				seen[p.Window] = true
			}
		} else if p.Score >= threshold {
			fp++
		}
	}
	for _, h := range seen {
		if h {
			hit++
		}
	}
	return hit, len(seen), fp
}
