package tenantanomalyconnector

import (
	"math"
)

type signal uint8

const (
	signalLogs signal = iota
	signalMetrics
	signalTraces
	signalCount
)

var signalNames = [signalCount]string{"logs", "metrics", "traces"}

// feature is one measured quantity of a tenant's signal per interval.
type feature uint8

const (
	featRecords     feature = iota // log records, data points or spans
	featBytes                      // OTLP protobuf size of the tenant's resources
	featErrorRatio                 // share of records at severity >= ERROR, or spans with status Error
	featQuarantined                // records quarantined while claiming the tenant
	featRedacted                   // records the tenantredact processor changed
	featServices                   // distinct service.name values (HyperLogLog estimate)
	featLatencyP50                 // span duration median, milliseconds (DDSketch)
	featLatencyP99                 // span duration 99th percentile, milliseconds
	featureCount
)

var featureNames = [featureCount]string{"records", "bytes", "error_ratio", "quarantined", "redacted", "services", "latency_p50", "latency_p99"}

// signalFeatures lists the features of each signal; metrics have no error
// status and no duration.
var signalFeatures = [signalCount][]feature{
	signalLogs:    {featRecords, featBytes, featErrorRatio, featQuarantined, featRedacted, featServices},
	signalMetrics: {featRecords, featBytes, featQuarantined, featRedacted, featServices},
	signalTraces:  {featRecords, featBytes, featErrorRatio, featQuarantined, featRedacted, featServices, featLatencyP50, featLatencyP99},
}

// featureKeys are the names a feature goes by in anomaly records and the
// score metric: "signal.feature".
var featureKeys = func() (k [signalCount][featureCount]string) {
	for s := range signalCount {
		for _, f := range signalFeatures[s] {
			k[s][f] = signalNames[s] + "." + featureNames[f]
		}
	}
	return k
}()

// latencyAccuracy is DDSketch's relative accuracy; latencyMaxBins bounds its
// memory (collapsing the lowest bins first, which p50/p99 never reach
// unless durations span more than ~17 orders of magnitude).
const (
	latencyAccuracy = 0.01
	latencyMaxBins  = 2048
)

// accumulator sums one tenant's signal over the open interval.
type accumulator struct {
	records, bytes, errors, quarantined, redacted int64
	services                                      distinctSet    // service.name values (h16m_distinct.go)
	latency                                       *latencySketch // traces only, allocated on the first span
	// metricValues holds, for metrics only, each configured metric's state
	// (values.go), in the config's order; nil until the tenant sends one.
	metricValues []*valueMetric
	// perService holds, for traces only with max_services, the slots of
	// the tenant's services (services.go); nil until the first.
	perService *serviceSlots
}

func (a *accumulator) addService(name string) {
	a.services.add(name)
}

func (a *accumulator) addLatency(ms float64) {
	if a.latency == nil {
		a.latency = newLatencySketch(latencyMapping, latencyMaxBins)
	}
	a.latency.add(ms) // negative durations are clamped by the caller
}

// values closes the interval: it returns every feature's value and resets
// the accumulator, keeping its sketches' memory for the next interval. A
// ratio or quantile of nothing is NaN, which the detector skips.
func (a *accumulator) values() (v [featureCount]float64) {
	v[featRecords] = float64(a.records)
	v[featBytes] = float64(a.bytes)
	v[featErrorRatio] = math.NaN()
	if a.records > 0 {
		v[featErrorRatio] = float64(a.errors) / float64(a.records)
	}
	v[featQuarantined] = float64(a.quarantined)
	v[featRedacted] = float64(a.redacted)
	v[featServices] = float64(a.services.estimate())
	a.services.reset()
	v[featLatencyP50], v[featLatencyP99] = math.NaN(), math.NaN()
	if a.latency != nil {
		if p50, p99, ok := a.latency.quantiles(); ok {
			v[featLatencyP50], v[featLatencyP99] = p50, p99
		}
		a.latency.clear()
	}
	a.closeValues()
	a.records, a.bytes, a.errors, a.quarantined, a.redacted = 0, 0, 0, 0, 0
	return v
}
