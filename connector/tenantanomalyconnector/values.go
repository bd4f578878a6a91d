package tenantanomalyconnector

import (
	"hash/maphash"
	"math"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/anomaly"
)

// Metric values: for each metric named in the config's `metrics`, a tenant
// that sends it gets three more series of its metrics signal: the
// interval's data points of that metric, and the median and 99th
// percentile of its values. The names come from the config, never from
// the data, so a tenant cannot add series; the streams whose running
// totals the connector remembers to take differences are capped per tenant
// and metric (maxValueStreams).

// valueFeature is one measured quantity of a configured metric.
type valueFeature uint8

const (
	valuePoints valueFeature = iota // data points of the metric in the interval
	valueP50                        // median of its values (DDSketch)
	valueP99                        // 99th percentile of its values
	valueFeatureCount
)

var valueFeatureNames = [valueFeatureCount]string{"points", "p50", "p99"}

const (
	// maxValueMetrics bounds the config's metrics: each costs every tenant
	// that sends it three detectors.
	maxValueMetrics = 16
	// maxValueNameLength bounds a configured name (OTel's instrument names
	// are at most 255 characters).
	maxValueNameLength = 255
	// maxValueStreams bounds the streams (resource, scope and point
	// attributes) of one tenant's metric whose last cumulative point is
	// kept to take differences; points of further streams count as points
	// and in valueMetric.overflow, not as values.
	maxValueStreams = 64
	// valueStreamIdle is how many interval closes a stream may go unseen
	// before it is forgotten.
	valueStreamIdle = 2
	// maxValueBuckets bounds the buckets of a histogram point whose
	// buckets are used (the SDKs' default has 16); a point with more
	// counts by its mean, and its stream keeps no buckets.
	maxValueBuckets = 128
	// valueAccuracy and valueMaxBins size a metric's value sketch: 2%
	// relative accuracy (histogram buckets are coarser), and at most 512
	// bins per sign, 4 KiB for values of one sign and 8 KiB for both (8.5 KB
	// retained, TestHostileReview2SketchBothSigns), however wide a hostile
	// tenant spreads its values (p50 and p99 stay exact within a factor of
	// ~27,000 below the largest).
	valueAccuracy = 0.02
	valueMaxBins  = 512
)

// valueKey is the feature key of a configured metric's feature in anomaly
// records: "metrics.value.<name>.<feature>".
func valueKey(name string, f valueFeature) string {
	return signalNames[signalMetrics] + ".value." + name + "." + valueFeatureNames[f]
}

// metricIndex is the position of name in the configured metrics, or -1.
// The list is short (maxValueMetrics), so a scan is as fast as a map.
func (c *Config) metricIndex(name string) int {
	for i, n := range c.Metrics {
		if n == name {
			return i
		}
	}
	return -1
}

// valueMetric is one tenant's state for one configured metric: the open
// interval's points and values, the last cumulative point of its streams,
// the closed interval's values and its detectors.
type valueMetric struct {
	points   int64
	values   *ddsketch.DDSketch // allocated on the first value
	streams  map[uint64]*valueStream
	overflow int64 // points of streams beyond maxValueStreams, since start
	warned   bool  // the overflow was logged
	closed   [valueFeatureCount]float64
	det      [valueFeatureCount]*anomaly.Detector
	// bucketIdx caches the sketch index of each inner histogram bucket's
	// middle for the bounds last seen (bucketBounds), so a point costs no
	// logarithm per bucket when its bounds repeat (they are the
	// instrument's); noIndex where the middle is not above zero.
	bucketBounds []float64
	bucketIdx    []int
}

const noIndex = math.MinInt

// valueStream is the last cumulative point of one stream.
type valueStream struct {
	start   pcommon.Timestamp
	count   uint64
	sum     float64
	buckets []uint64
	idle    uint8 // closes since it was last seen
}

func (vm *valueMetric) sketch() *ddsketch.DDSketch {
	if vm.values == nil {
		// Only fails for an accuracy outside (0,1).
		vm.values, _ = ddsketch.LogCollapsingLowestDenseDDSketch(valueAccuracy, valueMaxBins)
	}
	return vm.values
}

func (vm *valueMetric) add(v, weight float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || weight <= 0 {
		return
	}
	_ = vm.sketch().AddWithCount(v, weight) // fails only for values beyond ±1e308
}

// innerIndexes returns the sketch index of each inner bucket's middle
// (index b-1 for bucket b), computing them when bounds differ from the
// last ones.
func (vm *valueMetric) innerIndexes(bounds pcommon.Float64Slice) []int {
	same := len(vm.bucketBounds) == bounds.Len()
	for b := 0; same && b < bounds.Len(); b++ {
		same = vm.bucketBounds[b] == bounds.At(b)
	}
	if same {
		return vm.bucketIdx
	}
	sk := vm.sketch()
	vm.bucketBounds = append(vm.bucketBounds[:0], bounds.AsRaw()...)
	vm.bucketIdx = vm.bucketIdx[:0]
	for b := 1; b < bounds.Len(); b++ {
		mid := (bounds.At(b-1) + bounds.At(b)) / 2
		idx := noIndex
		if mid > sk.MinIndexableValue() && mid <= sk.MaxIndexableValue() {
			idx = sk.Index(mid)
		}
		vm.bucketIdx = append(vm.bucketIdx, idx)
	}
	return vm.bucketIdx
}

// stream returns the kept point of the stream with key k, making one when
// there is room; nil when the tenant's metric has maxValueStreams already.
func (vm *valueMetric) stream(k uint64) (s *valueStream, isNew bool) {
	if s, ok := vm.streams[k]; ok {
		s.idle = 0
		return s, false
	}
	if vm.streams == nil {
		vm.streams = map[uint64]*valueStream{}
	}
	if len(vm.streams) >= maxValueStreams {
		return nil, false
	}
	s = &valueStream{}
	vm.streams[k] = s
	return s, true
}

// close ends the interval: the closed values are kept for scoring, the
// interval's counts reset, and streams idle too long forgotten. A quantile
// of nothing is NaN, which the detector skips.
func (vm *valueMetric) close() {
	vm.closed[valuePoints] = float64(vm.points)
	vm.closed[valueP50], vm.closed[valueP99] = math.NaN(), math.NaN()
	if vm.values != nil && !vm.values.IsEmpty() {
		if q, err := vm.values.GetValuesAtQuantiles([]float64{0.5, 0.99}); err == nil {
			vm.closed[valueP50], vm.closed[valueP99] = q[0], q[1]
		}
		vm.values.Clear()
	}
	vm.points = 0
	for k, s := range vm.streams {
		if s.idle++; s.idle > valueStreamIdle {
			delete(vm.streams, k)
		}
	}
}

// closeValues closes every configured metric's and service slot's
// interval of the accumulator (values() calls it).
func (a *accumulator) closeValues() {
	a.closeServices()
	for _, vm := range a.metricValues {
		if vm != nil {
			vm.close()
		}
	}
}

// streamSeed keys stream hashes; they live in memory only.
var streamSeed = maphash.MakeSeed()

// hashMap adds a map's keys and values to h, in the map's order (a sender
// that reorders its attributes makes a new stream, which costs one point's
// difference).
func hashMap(h *maphash.Hash, m pcommon.Map) {
	for k, v := range m.All() {
		h.WriteString(k)
		h.WriteByte(0)
		if v.Type() == pcommon.ValueTypeStr {
			h.WriteString(v.Str())
		} else {
			h.WriteString(v.AsString())
		}
		h.WriteByte(0)
	}
}

// streamKey is the hash of a point's stream: its resource's (res, already
// written), its scope's name and its attributes.
func streamKey(res *maphash.Hash, scope string, attrs pcommon.Map) uint64 {
	h := *res
	h.WriteString(scope)
	h.WriteByte(0)
	hashMap(&h, attrs)
	return h.Sum64()
}

// addMetricValues adds the resource's points of the configured metrics to
// the tenant's accumulator; the caller holds the tenant's lock.
//
// What a point adds to the values:
//   - a gauge's, a delta sum's or a non-monotonic sum's point: its value;
//   - a monotonic cumulative sum's point: its increase since the stream's
//     previous point (a running total's value is its history);
//   - a histogram's point: each bucket's observations at the bucket's
//     middle (the outer buckets at their finite bound, or at min and max
//     when the point has them), for a cumulative one those since the
//     stream's previous point; without buckets, its mean;
//   - exponential histograms and summaries: none (they count as points).
//
// A cumulative stream's first point, and a point whose stream did not fit
// under maxValueStreams, add no values.
func (a *accumulator) addMetricValues(rm pmetric.ResourceMetrics, cfg *Config) {
	// The resource's part of the stream keys, hashed on the first
	// cumulative point: a resource without one costs no hashing.
	var resHash maphash.Hash
	hashed := false
	res := func() *maphash.Hash {
		if !hashed {
			hashed = true
			resHash.SetSeed(streamSeed)
			hashMap(&resHash, rm.Resource().Attributes())
		}
		return &resHash
	}
	for j := 0; j < rm.ScopeMetrics().Len(); j++ {
		sm := rm.ScopeMetrics().At(j)
		ms := sm.Metrics()
		for k := 0; k < ms.Len(); k++ {
			m := ms.At(k)
			i := cfg.metricIndex(m.Name())
			if i < 0 {
				continue
			}
			if a.metricValues == nil {
				a.metricValues = make([]*valueMetric, len(cfg.Metrics))
			}
			vm := a.metricValues[i]
			if vm == nil {
				vm = &valueMetric{}
				a.metricValues[i] = vm
			}
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				dps := m.Gauge().DataPoints()
				vm.points += int64(dps.Len())
				for p := 0; p < dps.Len(); p++ {
					vm.add(numberValue(dps.At(p)), 1)
				}
			case pmetric.MetricTypeSum:
				sum := m.Sum()
				dps := sum.DataPoints()
				vm.points += int64(dps.Len())
				running := sum.IsMonotonic() && sum.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
				for p := 0; p < dps.Len(); p++ {
					dp := dps.At(p)
					if !running {
						vm.add(numberValue(dp), 1)
						continue
					}
					s, isNew := vm.stream(streamKey(res(), sm.Scope().Name(), dp.Attributes()))
					if s == nil {
						vm.overflow++
						continue
					}
					v := numberValue(dp)
					if !isNew {
						if dp.StartTimestamp() == s.start && v >= s.sum {
							vm.add(v-s.sum, 1)
						} else {
							vm.add(v, 1) // restarted: all of it is new
						}
					}
					s.start, s.sum = dp.StartTimestamp(), v
				}
			case pmetric.MetricTypeHistogram:
				h := m.Histogram()
				dps := h.DataPoints()
				vm.points += int64(dps.Len())
				cumulative := h.AggregationTemporality() == pmetric.AggregationTemporalityCumulative
				for p := 0; p < dps.Len(); p++ {
					dp := dps.At(p)
					if !cumulative {
						vm.addHistogram(dp, nil, 0, 0)
						continue
					}
					s, isNew := vm.stream(streamKey(res(), sm.Scope().Name(), dp.Attributes()))
					if s == nil {
						vm.overflow++
						continue
					}
					counts := dp.BucketCounts()
					usable := bucketsUsable(dp)
					if !isNew {
						if dp.StartTimestamp() == s.start && dp.Count() >= s.count && (!usable || counts.Len() == len(s.buckets)) {
							vm.addHistogram(dp, s.buckets, s.count, s.sum)
						} else {
							vm.addHistogram(dp, nil, 0, 0) // restarted or re-bucketed
						}
					}
					s.start, s.count, s.sum = dp.StartTimestamp(), dp.Count(), dp.Sum()
					s.buckets = s.buckets[:0]
					for b := 0; usable && b < counts.Len(); b++ {
						s.buckets = append(s.buckets, counts.At(b))
					}
				}
			case pmetric.MetricTypeExponentialHistogram:
				vm.points += int64(m.ExponentialHistogram().DataPoints().Len())
			case pmetric.MetricTypeSummary:
				vm.points += int64(m.Summary().DataPoints().Len())
			}
		}
	}
}

func numberValue(dp pmetric.NumberDataPoint) float64 {
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		return dp.DoubleValue()
	}
	return math.NaN()
}

// bucketsUsable: the point has bounds, at most maxValueBuckets buckets,
// one more bucket than bounds. Otherwise only its count and sum are used,
// so a tenant's huge bucket arrays cost no memory per stream.
func bucketsUsable(dp pmetric.HistogramDataPoint) bool {
	n := dp.BucketCounts().Len()
	return n >= 2 && n <= maxValueBuckets && n == dp.ExplicitBounds().Len()+1
}

// addHistogram adds a histogram point's observations, less those of prev
// (the stream's previous cumulative buckets, count and sum; nil for none).
func (vm *valueMetric) addHistogram(dp pmetric.HistogramDataPoint, prev []uint64, prevCount uint64, prevSum float64) {
	counts, bounds := dp.BucketCounts(), dp.ExplicitBounds()
	if !bucketsUsable(dp) {
		// No bounds, too many, or malformed ones: the mean of the new
		// observations.
		if n := dp.Count() - prevCount; n > 0 && dp.HasSum() {
			vm.add((dp.Sum()-prevSum)/float64(n), float64(n))
		}
		return
	}
	nb := bounds.Len()
	inner := vm.innerIndexes(bounds)
	for b := 0; b < counts.Len(); b++ {
		c := counts.At(b)
		if prev != nil {
			if c < prev[b] {
				continue // a bucket went down: not a cumulative continuation
			}
			c -= prev[b]
		}
		if c == 0 {
			continue
		}
		var v float64
		switch {
		// A cumulative point's min and max are of the stream's whole life,
		// not of the observations since the previous point.
		case b == 0:
			v = bounds.At(0)
			if prev == nil && dp.HasMin() && dp.Min() < v {
				v = (dp.Min() + v) / 2
			}
		case b == nb:
			v = bounds.At(nb - 1)
			if prev == nil && dp.HasMax() && dp.Max() > v {
				v = (dp.Max() + v) / 2
			}
		case inner[b-1] != noIndex:
			vm.values.GetPositiveValueStore().AddWithCount(inner[b-1], float64(c))
			continue
		default:
			v = (bounds.At(b-1) + bounds.At(b)) / 2
		}
		vm.add(v, float64(c))
	}
}

// valueDetector returns *dp, created on first use and rebuilt (keeping its
// state) when the tenant's sensitivity changed, as monitor.detector does
// for the signal features.
func (m *monitor) valueDetector(dp **anomaly.Detector, sensitivity float64) *anomaly.Detector {
	d := *dp
	if d != nil && d.Config().Sensitivity == sensitivity {
		return d
	}
	nd, err := anomaly.New(m.cfg.detectorConfig(sensitivity))
	if err != nil {
		panic(err) // the policy validated the sensitivity and Config.Validate the rest
	}
	if d != nil {
		if b, err := d.MarshalBinary(); err == nil {
			_ = nd.UnmarshalBinary(b)
		}
	}
	*dp = nd
	return nd
}

// scoreValues scores the closed interval of each configured metric the
// tenant sends, and of each service slot, and appends their findings to
// fs; the caller holds the tenant's lock and closed the accumulator
// (values).
func (m *monitor) scoreValues(id string, ss *signalSeries, end time.Time, sensitivity float64, fs []finding) []finding {
	fs = m.scoreServices(id, &ss.acc, end, sensitivity, fs)
	for i, vm := range ss.acc.metricValues {
		if vm == nil {
			continue
		}
		if vm.overflow > 0 && !vm.warned {
			vm.warned = true
			m.logger.Warn("tenantanomaly: a tenant sends more streams of a configured metric than are followed; the others count as points only",
				zap.String("tenant", id), zap.String("metric", m.cfg.Metrics[i]), zap.Int("max_streams", maxValueStreams))
		}
		for f := range valueFeatureCount {
			d := m.valueDetector(&vm.det[f], sensitivity)
			v := vm.closed[f]
			if score := d.Update(end, v); score >= m.cfg.Threshold {
				fs = append(fs, finding{key: valueKey(m.cfg.Metrics[i], f), observed: v, expected: d.Explain().Expected, score: score, points: d.Points()})
			}
		}
	}
	return fs
}
