package nab

import (
	"fmt"
	"sort"
	"strings"
)

// Category is the NAB category of a corpus file name: its directory
// ("realTweets/Twitter_volume_AAPL.csv" is in "realTweets").
func Category(file string) string {
	if i := strings.IndexByte(file, '/'); i >= 0 {
		return file[:i]
	}
	return ""
}

// Categories returns the corpus's categories, sorted.
func (c *Corpus) Categories() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range c.Files {
		if k := Category(f); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// categoryWindows is the number of windows of the files in category k.
func (c *Corpus) categoryWindows(k string) int {
	n := 0
	for _, f := range c.Files {
		if Category(f) == k {
			n += len(c.Windows[f])
		}
	}
	return n
}

// CategoryScore is one category's NAB score under one profile.
type CategoryScore struct {
	Category  string
	Windows   int
	Config    int     // index of the configuration scored (LeaveOneCategoryOut)
	Threshold float64 // threshold scored at
	Raw       float64
	Score     float64 // normalised over this category's windows
}

// InSample splits a corpus Result by category: each category's files at the
// corpus-wide threshold, normalised over that category's windows.
func (c *Corpus) InSample(r Result, prof Profile) []CategoryScore {
	out := make([]CategoryScore, 0, 8)
	for _, k := range c.Categories() {
		cs := CategoryScore{Category: k, Windows: c.categoryWindows(k), Threshold: r.Threshold}
		for f, fs := range r.PerFile {
			if Category(f) == k {
				cs.Raw += fs.Raw
			}
		}
		cs.Score = Normalize(cs.Raw, cs.Windows, prof.Costs)
		out = append(out, cs)
	}
	return out
}

// HeldOut is a leave-one-category-out result under one profile: every
// category scored with the configuration and threshold chosen on the other
// categories, and the corpus total of those held-out scores.
type HeldOut struct {
	Profile     string
	PerCategory []CategoryScore
	Raw         float64
	Score       float64 // normalised over the whole corpus
}

// LeaveOneCategoryOut scores the corpus out of sample. cands holds one set
// of detections per candidate configuration. For each category and profile,
// the configuration and threshold with the best raw score on the other
// categories (the lowest index, then the highest threshold, on ties) are
// chosen, and the category is scored at them: nothing about a category's own
// labels picks its setting.
func (c *Corpus) LeaveOneCategoryOut(ts map[string][]string, cands []Detections, profiles []Profile) ([]HeldOut, error) {
	if len(cands) == 0 {
		return nil, fmt.Errorf("no candidate configurations")
	}
	cats := c.Categories()
	catOf := map[string]int{}
	for i, k := range cats {
		catOf[k] = i
	}
	out := make([]HeldOut, 0, len(profiles))
	// points is configuration k's points by category, with corpus-wide
	// window ids. Only one configuration's are held at a time: a sweep of
	// a hundred configurations would hold gigabytes.
	points := func(k int, prof Profile) ([][]Point, error) {
		byCat := make([][]Point, len(cats))
		base := 0
		for _, f := range c.Files {
			sc, ok := cands[k][f]
			if !ok {
				return nil, fmt.Errorf("configuration %d: no detections for %s", k, f)
			}
			p, err := FilePoints(ts[f], sc, c.Windows[f], base, prof.Costs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			base += len(c.Windows[f])
			i := catOf[Category(f)]
			byCat[i] = append(byCat[i], p...)
		}
		return byCat, nil
	}
	for _, prof := range profiles {
		best := make([]heldBest, len(cats))
		for k := range cands {
			pts, err := points(k, prof)
			if err != nil {
				return nil, err
			}
			for i, b := range sweepHeldOut(pts, prof.Costs) {
				if k == 0 || b.Raw > best[i].Raw {
					best[i] = heldBest{k, b}
				}
			}
		}
		h := HeldOut{Profile: prof.Name}
		for i, held := range cats {
			b := best[i]
			pts, err := points(b.config, prof)
			if err != nil {
				return nil, err
			}
			cs := CategoryScore{Category: held, Windows: c.categoryWindows(held), Config: b.config, Threshold: b.Threshold,
				Raw: ScoreAt(pts[i], b.Threshold, prof.Costs)}
			cs.Score = Normalize(cs.Raw, cs.Windows, prof.Costs)
			h.PerCategory = append(h.PerCategory, cs)
			h.Raw += cs.Raw
		}
		h.Score = Normalize(h.Raw, c.NumWindows(), prof.Costs)
		out = append(out, h)
	}
	return out, nil
}

type heldBest struct {
	config int
	ThresholdScore
}

// sweepHeldOut returns, for each group i of byCat, the best threshold of the
// points of all the other groups (as Best(Sweep(others)) would). Windows
// never span groups, so the raw score of a threshold is the sum of the
// groups' raw scores, and one descending pass serves every group.
func sweepHeldOut(byCat [][]Point, cm CostMatrix) []ThresholdScore {
	type catPoint struct {
		Point
		cat int
	}
	var all []catPoint
	for i, ps := range byCat {
		for _, p := range ps {
			all = append(all, catPoint{p, i})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Score > all[j].Score })
	n := len(byCat)
	raw := make([]float64, n) // each group's raw score at the current threshold
	part := map[int]float64{} // each window's best row weight so far
	for _, p := range all {
		if p.Window >= 0 {
			if _, ok := part[p.Window]; !ok {
				part[p.Window] = -cm.FN
				raw[p.cat] -= cm.FN
			}
		}
	}
	best := make([]ThresholdScore, n)
	total := 0.0
	for _, r := range raw {
		total += r
	}
	thr := 1.1
	note := func() {
		for i := range best {
			if s := total - raw[i]; thr == 1.1 || s > best[i].Raw {
				best[i] = ThresholdScore{thr, s}
			}
		}
	}
	for _, p := range all {
		if p.Score != thr {
			note()
			thr = p.Score
		}
		if p.Window < 0 {
			raw[p.cat] += p.Weight
			total += p.Weight
		} else if old := part[p.Window]; p.Weight > old {
			part[p.Window] = p.Weight
			raw[p.cat] += p.Weight - old
			total += p.Weight - old
		}
	}
	note()
	return best
}
