package tenantanomalyconnector

import (
	"math"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
)

// latencySketch is a DDSketch of span durations in milliseconds (never
// negative) in compact form. It indexes durations with ddsketch's own
// logarithmic mapping and keeps its bins as
// ddsketch.LogCollapsingLowestDenseDDSketch(accuracy, maxBins) does
// (durations at or below the mapping's smallest indexable value count as
// zero; when the indexes in use span more than maxBins, the lowest collapse
// into the lowest kept bin), so its quantiles are the ones that sketch
// gives for the same durations. What differs is the memory: ddsketch's
// dense store keeps float64 counts over the range in use plus at least 63
// bins of slack (1-2 KiB for a typical tenant's durations), this one
// uint32 counts over the range in use, grown a quarter at a time (about
// 0.6 KiB for the benchmark's durations, which span 115 bins at 1%).
//
// A bin's count saturates at 2^32-1 spans in one interval.
type latencySketch struct {
	mapping *mapping.LogarithmicMapping // shared by every sketch of one accuracy
	// bins[i] counts the durations of index offset+i; the first and the
	// last are the lowest and highest indexes seen since the last clear.
	bins    []uint32
	offset  int32
	maxBins int32
	zero    uint64 // durations too small to index
}

// Mappings of the two accuracies in use; a mapping is read-only.
var (
	latencyMapping = mustLogMapping(latencyAccuracy)
	valueMapping   = mustLogMapping(valueAccuracy)
)

func mustLogMapping(accuracy float64) *mapping.LogarithmicMapping {
	m, err := mapping.NewLogarithmicMapping(accuracy)
	if err != nil {
		panic(err) // only for an accuracy outside (0,1)
	}
	return m
}

func newLatencySketch(m *mapping.LogarithmicMapping, maxBins int) *latencySketch {
	return &latencySketch{mapping: m, maxBins: int32(maxBins)}
}

// add counts one duration; NaN and durations beyond the mapping's largest
// indexable value are dropped, as ddsketch drops them.
func (s *latencySketch) add(ms float64) {
	switch {
	case math.IsNaN(ms) || ms > s.mapping.MaxIndexableValue():
		return
	case ms <= s.mapping.MinIndexableValue():
		s.zero++
		return
	}
	i := s.slot(s.mapping.Index(ms))
	if s.bins[i] < math.MaxUint32 {
		s.bins[i]++
	}
}

// slot returns the position in bins of index idx, extending the bins to
// it or, past maxBins, collapsing the lowest.
func (s *latencySketch) slot(idx int) int {
	if len(s.bins) == 0 {
		s.bins = s.resize(1)
		s.bins[0] = 0 // the memory of a cleared interval
		s.offset = int32(idx)
		return 0
	}
	lo, hi := int(s.offset), int(s.offset)+len(s.bins)-1
	maxBins := int(s.maxBins)
	switch {
	case idx >= lo && idx <= hi:
		return idx - lo
	case idx < lo:
		newLo := max(idx, hi-maxBins+1)
		shift := lo - newLo
		if shift > 0 {
			n := len(s.bins)
			s.bins = s.resize(n + shift)
			copy(s.bins[shift:], s.bins[:n])
			clear(s.bins[:shift])
			s.offset = int32(newLo)
		}
		return 0 // idx itself, or the lowest kept bin it collapses into
	default: // idx > hi
		newLo := max(lo, idx-maxBins+1)
		if drop := newLo - lo; drop > 0 {
			// Collapse the bins below newLo into it.
			if drop >= len(s.bins) {
				var sum uint64
				for _, c := range s.bins {
					sum += uint64(c)
				}
				s.bins = s.bins[:1]
				s.bins[0] = uint32(min(sum, math.MaxUint32))
				s.offset = int32(newLo)
			} else {
				var sum uint64
				for _, c := range s.bins[:drop+1] {
					sum += uint64(c)
				}
				n := copy(s.bins, s.bins[drop:])
				s.bins = s.bins[:n]
				s.bins[0] = uint32(min(sum, math.MaxUint32))
				s.offset = int32(newLo)
			}
			lo = newLo
		}
		n := len(s.bins)
		s.bins = s.resize(idx - lo + 1)
		clear(s.bins[n:])
		return idx - lo
	}
}

// resize returns the bins with length n, reallocating (a quarter larger,
// at most maxBins) when the capacity is short; the new part is not
// cleared.
func (s *latencySketch) resize(n int) []uint32 {
	if n <= cap(s.bins) {
		return s.bins[:n]
	}
	c := min(n+n/4+4, max(int(s.maxBins), n))
	b := make([]uint32, n, c)
	copy(b, s.bins)
	return b
}

func (s *latencySketch) isEmpty() bool {
	return s.zero == 0 && len(s.bins) == 0
}

// quantiles returns the durations at quantiles 0.5 and 0.99 as
// ddsketch.DDSketch.GetValuesAtQuantiles does; ok is false when empty.
func (s *latencySketch) quantiles() (p50, p99 float64, ok bool) {
	if s.isEmpty() {
		return 0, 0, false
	}
	var total uint64
	for _, c := range s.bins {
		total += uint64(c)
	}
	count := float64(s.zero) + float64(total)
	return s.at(0.5, count), s.at(0.99, count), true
}

func (s *latencySketch) at(q, count float64) float64 {
	rank := float64(q * (count - 1))
	zero := float64(s.zero)
	if rank < zero {
		return 0
	}
	rank -= zero
	var n float64
	for i, c := range s.bins {
		n += float64(c)
		if n > rank {
			return s.mapping.Value(int(s.offset) + i)
		}
	}
	return s.mapping.Value(int(s.offset) + len(s.bins) - 1)
}

// clear empties the sketch for the next interval, keeping its memory.
func (s *latencySketch) clear() {
	s.bins = s.bins[:0]
	s.zero = 0
}
