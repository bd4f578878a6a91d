package tenantanomalyconnector

import (
	"math"
	"time"

	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/anomaly"
)

// Per-service spans: with max_services above 0, each of a tenant's first
// max_services service.name values gets its own span error ratio and
// latency series. Service names come from the tenant's data, so the slots
// are capped: spans of further services count only for the tenant's
// traces features and in serviceOverflow, and a slot is freed when its
// service sent nothing for serviceIdle intervals.

type serviceFeature uint8

const (
	serviceErrorRatio serviceFeature = iota // share of the service's spans with status Error
	serviceLatencyP50                       // its span duration median, milliseconds
	serviceLatencyP99                       // its 99th percentile
	serviceFeatureCount
)

var serviceFeatureNames = [serviceFeatureCount]string{"error_ratio", "latency_p50", "latency_p99"}

const (
	// maxServicesLimit bounds max_services: each slot costs a tenant three
	// detectors and a sketch.
	maxServicesLimit = 64
	// maxServiceNameLength: a longer service.name takes no slot (its
	// spans count as overflow), so a name cannot grow the state.
	maxServiceNameLength = 128
)

// serviceKey is the feature key of a service's feature in anomaly records:
// "traces.service.<name>.<feature>".
func serviceKey(name string, f serviceFeature) string {
	return signalNames[signalTraces] + ".service." + name + "." + serviceFeatureNames[f]
}

// serviceSeries is one service's slot of a tenant: the open interval's
// spans, errors and durations, the closed interval's values and the
// detectors.
type serviceSeries struct {
	name          string
	spans, errors int64
	latency       *latencySketch
	idle          int // closes since its last span
	closed        [serviceFeatureCount]float64
	det           [serviceFeatureCount]*anomaly.Detector
}

// serviceSlots is a tenant's per-service state of its traces signal.
type serviceSlots struct {
	idleLimit int // the config's serviceIdle
	slots     []*serviceSeries
	overflow  int64 // spans of services beyond the slots, since start
	warned    bool  // the overflow was logged
}

// service returns the slot of name, taking a free one when there is room;
// nil when the tenant's slots are full (or the name is too long). The
// caller holds the tenant's lock.
func (a *accumulator) service(name string, cfg *Config) *serviceSeries {
	if a.perService == nil {
		a.perService = &serviceSlots{idleLimit: cfg.serviceIdle()}
	}
	ss := a.perService
	for _, s := range ss.slots {
		if s.name == name {
			return s
		}
	}
	if len(ss.slots) >= cfg.MaxServices || len(name) > maxServiceNameLength {
		return nil
	}
	s := &serviceSeries{name: name}
	ss.slots = append(ss.slots, s)
	return s
}

// addSpan adds one span of the service.
func (s *serviceSeries) addSpan(isErr bool, ms float64) {
	s.spans++
	if isErr {
		s.errors++
	}
	if s.latency == nil {
		// As a metric's values' accuracy: at most 2 KiB per slot, however
		// widely a tenant spreads its durations (the tenant-wide sketch may
		// take 8).
		s.latency = newLatencySketch(valueMapping, valueMaxBins)
	}
	s.latency.add(ms)
}

// closeServices ends the interval of every slot: the closed values are
// kept for scoring (NaN without spans, which the detector skips) and a
// slot idle for more than serviceIdle closes is freed with its series.
func (a *accumulator) closeServices() {
	if a.perService == nil {
		return
	}
	ss := a.perService
	idleLimit := ss.idleLimit
	kept := ss.slots[:0]
	for _, s := range ss.slots {
		for f := range s.closed {
			s.closed[f] = math.NaN()
		}
		if s.spans > 0 {
			s.idle = 0
			s.closed[serviceErrorRatio] = float64(s.errors) / float64(s.spans)
			if p50, p99, ok := s.latency.quantiles(); ok {
				s.closed[serviceLatencyP50], s.closed[serviceLatencyP99] = p50, p99
			}
			s.latency.clear()
		} else if s.idle++; s.idle > idleLimit {
			continue
		}
		s.spans, s.errors = 0, 0
		kept = append(kept, s)
	}
	clear(ss.slots[len(kept):])
	ss.slots = kept
}

// serviceIdle is how many intervals a service may send nothing before its
// slot is freed: its probation, so a short pause keeps its baseline.
func (c *Config) serviceIdle() int {
	return max(c.Probation, 1)
}

// scoreServices scores the closed interval of each service slot and
// appends its findings to fs; the caller holds the tenant's lock.
func (m *monitor) scoreServices(id string, a *accumulator, end time.Time, sensitivity float64, fs []finding) []finding {
	ss := a.perService
	if ss == nil {
		return fs
	}
	if ss.overflow > 0 && !ss.warned {
		ss.warned = true
		m.logger.Warn("tenantanomaly: a tenant sends spans of more services than have their own series; the others count for the tenant's traces features only",
			zap.String("tenant", id), zap.Int("max_services", m.cfg.MaxServices))
	}
	for _, s := range ss.slots {
		for f := range serviceFeatureCount {
			d := m.valueDetector(&s.det[f], sensitivity)
			v := s.closed[f]
			if score := d.Update(end, v); score >= m.cfg.Threshold {
				fs = append(fs, finding{key: serviceKey(s.name, f), observed: v, expected: d.Explain().Expected, score: score, points: d.Points()})
			}
		}
	}
	return fs
}
