package anomaly

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// matchScalar is match written dimension by dimension in feature units,
// as fuzzy ART defines it with complement coding.
func matchScalar(xc *[artDims]uint8, c *box) (m, e float64) {
	dec := func(c uint8) float64 { return (float64(c) - artCodeOff) / artCodeUnit }
	var num, den float64
	for d := range artDims {
		x, lo, hi := dec(xc[d]), dec(c.Lo[d]), dec(c.Hi[d])
		num += min(x, lo) + 1 - max(x, hi)
		den += lo + 1 - hi
	}
	den = max(den, 0.001)
	const ed = artDims - 1
	x, lo, hi := dec(xc[ed]), dec(c.Lo[ed]), dec(c.Hi[ed])
	e = (min(x, lo) + 1 - max(x, hi)) / max(lo+1-hi, 0.001)
	fs := num / den
	return fs * fs * fs * e * e, e
}

// The word-at-a-time match, growth and merge agree with their definitions
// on codes across the whole byte range (the high bit is where a carry
// between bytes would show).
func TestBoxArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var x [artDims]uint8
		var c, b box
		for d := range artDims {
			x[d] = uint8(rng.IntN(256))
			l, h := uint8(rng.IntN(256)), uint8(rng.IntN(256))
			c.Lo[d], c.Hi[d] = min(l, h), max(l, h)
			l, h = uint8(rng.IntN(256)), uint8(rng.IntN(256))
			b.Lo[d], b.Hi[d] = min(l, h), max(l, h)
		}
		w := words(&x)
		m, e := match(&w, &c)
		wm, we := matchScalar(&x, &c)
		rel := func(a float32, b float64) float64 { return math.Abs(float64(a)-b) / max(1, math.Abs(b)) }
		if rel(m, wm) > 1e-5 || rel(e, we) > 1e-6 {
			t.Fatalf("match %v %v, by definition %v %v", m, e, wm, we)
		}
		// train skips a category by this bound: it must hold exactly.
		if en := energy(&w, &c); en != e || m > en*en {
			t.Fatalf("energy %v (match's %v): bound %v under match %v", en, e, en*en, m)
		}
		g := c
		g.grow(&w)
		u := c.union(&b)
		width := 0
		for d := range artDims {
			if g.Lo[d] != min(c.Lo[d], x[d]) || g.Hi[d] != max(c.Hi[d], x[d]) {
				t.Fatalf("grow dim %d: [%d,%d] by %d gave [%d,%d]", d, c.Lo[d], c.Hi[d], x[d], g.Lo[d], g.Hi[d])
			}
			if u.Lo[d] != min(c.Lo[d], b.Lo[d]) || u.Hi[d] != max(c.Hi[d], b.Hi[d]) {
				t.Fatalf("union dim %d wrong", d)
			}
			width += int(c.Hi[d]) - int(c.Lo[d])
		}
		if c.width() != width {
			t.Fatalf("width %d, want %d", c.width(), width)
		}
	}
}

// The running median of the levels stays within the middle of what was
// added, also after the 8-bit counts have been halved many times, and
// follows a lasting shift.
func TestRunningMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a state
	var seen []int
	for i := range 20000 {
		l := int(40 + rng.NormFloat64()*2)
		if i >= 10000 {
			l += 10
		}
		m := a.median(l)
		seen = append(seen, max(0, min(artLevels, l)))
		if i != 9999 && i != 19999 {
			continue
		}
		recent := append([]int(nil), seen[len(seen)-2000:]...)
		sort.Ints(recent)
		lo, hi := recent[len(recent)*3/10], recent[len(recent)*7/10]
		if m < lo || m > hi {
			t.Errorf("after %d levels: median %d outside the recent 30-70%% range [%d,%d]", i+1, m, lo, hi)
		}
	}
}

// Extreme and degenerate inputs (beyond float32, denormal, constant, a
// flat probation then a jump) keep every score in [0,1] and never panic.
func TestExtremeValues(t *testing.T) {
	series := map[string]func(i int) float64{
		"beyond float32": func(i int) float64 { return math.Pow(-1, float64(i)) * 1e300 * float64(i%7) },
		"tiny":           func(i int) float64 { return 1e-310 * float64(i%5) },
		"flat then jump": func(i int) float64 {
			if i > 400 {
				return 1e12
			}
			return 3
		},
		"max float": func(i int) float64 { return math.MaxFloat64 / float64(1+i%3) },
	}
	for name, f := range series {
		for _, p := range []int{0, 1, 8, 150, 750} {
			cfg := DefaultConfig()
			cfg.Probation = p
			d, _ := New(cfg)
			for i := range 3000 {
				sc := d.Update(t0, f(i))
				if !(sc >= 0 && sc <= 1) {
					t.Fatalf("%s, probation %d: score %v at %d", name, p, sc, i)
				}
			}
		}
	}
}

// A state restored under another Probation (another block length and trend
// window), mid-block or mid-probation, keeps closing blocks and leaves
// probation; it does not stall.
func TestRestoreUnderOtherProbation(t *testing.T) {
	for _, c := range []struct{ from, to, rows int }{
		{600, 150, 1003}, // past probation, mid-block, to a shorter block
		{600, 150, 303},  // mid-probation, past the new trend window
		{150, 600, 77},   // mid-probation, to a longer one
	} {
		cf, ct := DefaultConfig(), DefaultConfig()
		cf.Probation, ct.Probation = c.from, c.to
		d, _ := New(cf)
		rng := rand.New(rand.NewPCG(uint64(c.rows), 1))
		for range c.rows {
			d.Update(t0, 50+rng.NormFloat64())
		}
		b, _ := d.MarshalBinary()
		r, _ := New(ct)
		if err := r.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		blocks := r.s.Blocks
		for range 2000 {
			r.Update(t0, 50+rng.NormFloat64())
		}
		g := newGeom(ct)
		if r.s.Blocks < blocks+2000/g.step-1 || r.s.DScale == 0 {
			t.Errorf("%+v: %d blocks closed in 2000 rows of step %d, in probation %v", c, r.s.Blocks-blocks, g.step, r.s.DScale == 0)
		}
	}
}
