package tenantgatewayreceiver

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/tenancyhq/tenancy/receiver/tenantgatewayreceiver/internal/metadata"
)

// Resource attributes of a remote-written series, as the collector's
// prometheus receiver names job and instance.
const (
	attrServiceName       = "service.name"
	attrServiceInstanceID = "service.instance.id"
)

func remoteWriteRoute() *route {
	return &route{
		path: "/api/v1/push", protocol: protoRemoteWrite, signal: signalMetrics,
		mediaTypes: []string{mediaProtobuf},
		checkParams: func(params map[string]string) *httpError {
			if p, ok := params["proto"]; ok && p != "prometheus.WriteRequest" {
				return &httpError{status: 415, reason: "unsupported_media_type",
					msg: fmt.Sprintf("remote write message %q is not supported: send remote write 1.0 (prometheus.WriteRequest)", p)}
			}
			return nil
		},
		implicitSnappy: func(string) bool { return true },
		proto:          func() protoRequest { return remoteWrite },
		decode: func(_ string, body []byte, lim decodeLimits) (payload, *httpError) {
			md, err := decodeRemoteWrite(body, lim)
			var fan *fanOutError
			if errors.As(err, &fan) {
				return payload{}, errTooLarge("%v", err)
			}
			var room *roomError
			if errors.As(err, &room) {
				return payload{}, room.herr
			}
			if err != nil {
				return payload{}, errBadRequest("invalid_protobuf", "%v", err)
			}
			return payload{signal: signalMetrics, metrics: md}, nil
		},
		respond: noContent,
	}
}

// decodeRemoteWrite converts a remote write 1.0 WriteRequest (already
// snappy-decoded). The contrib translators go the other way (pdata to
// remote write) or take remote write 2.0 only, so this is a plain
// conversion: one resource per job and instance, one metric per name, one
// data point per sample with the other labels as attributes. A series is a
// monotonic cumulative sum when the request's metadata says its family is
// a counter (or the _bucket/_count/_sum of a histogram or summary), a
// gauge otherwise. Every series is checked before any is converted: its
// labels (within lim's count, no name twice), and what copying each
// series' labels to each of its samples would take (within lim's cost).
func decodeRemoteWrite(body []byte, lim decodeLimits) (pmetric.Metrics, error) {
	var req prompb.WriteRequest
	if err := req.Unmarshal(body); err != nil {
		return pmetric.Metrics{}, fmt.Errorf("body is not a valid remote write WriteRequest protobuf: %w", err)
	}
	conversion, err := checkRemoteWriteSeries(req.Timeseries, lim)
	if err != nil {
		return pmetric.Metrics{}, err
	}
	if lim.reserve != nil {
		if herr := lim.reserve(conversion); herr != nil {
			return pmetric.Metrics{}, &roomError{herr: herr}
		}
	}
	types := make(map[string]prompb.MetricMetadata_MetricType, len(req.Metadata))
	for _, m := range req.Metadata {
		types[m.MetricFamilyName] = m.Type
	}
	md := pmetric.NewMetrics()
	type resourceEntry struct {
		metrics pmetric.MetricSlice
		byName  map[string]pmetric.Metric
	}
	resources := map[[2]string]*resourceEntry{}
	attrs := pcommon.NewMap()
	for i, ts := range req.Timeseries {
		var name, job, instance string
		attrs.Clear()
		attrs.EnsureCapacity(len(ts.Labels))
		for j, l := range ts.Labels {
			var err error
			switch l.Name {
			case "__name__":
				name = l.Value
			case "job":
				job = l.Value
			case "instance":
				instance = l.Value
			default:
				err = putLabel(attrs, l.Name, l.Value)
			}
			if err != nil {
				return pmetric.Metrics{}, fmt.Errorf("timeseries[%d].labels[%d]: %w", i, j, err)
			}
		}
		key := [2]string{job, instance}
		re, ok := resources[key]
		if !ok {
			rm := md.ResourceMetrics().AppendEmpty()
			if job != "" {
				rm.Resource().Attributes().PutStr(attrServiceName, job)
			}
			if instance != "" {
				rm.Resource().Attributes().PutStr(attrServiceInstanceID, instance)
			}
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(metadata.ScopeName)
			re = &resourceEntry{metrics: sm.Metrics(), byName: map[string]pmetric.Metric{}}
			resources[key] = re
		}
		m, ok := re.byName[name]
		if !ok {
			m = re.metrics.AppendEmpty()
			m.SetName(name)
			if isCumulative(name, types) {
				m.SetEmptySum().SetIsMonotonic(true)
				m.Sum().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			} else {
				m.SetEmptyGauge()
			}
			re.byName[name] = m
		}
		var dps pmetric.NumberDataPointSlice
		if m.Type() == pmetric.MetricTypeSum {
			dps = m.Sum().DataPoints()
		} else {
			dps = m.Gauge().DataPoints()
		}
		for _, s := range ts.Samples {
			dp := dps.AppendEmpty()
			dp.SetTimestamp(pcommon.Timestamp(s.Timestamp * 1e6))
			if value.IsStaleNaN(s.Value) {
				dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
				dp.SetDoubleValue(math.NaN())
			} else {
				dp.SetDoubleValue(s.Value)
			}
			attrs.CopyTo(dp.Attributes())
		}
	}
	return md, nil
}

// checkRemoteWriteSeries checks every series before any is converted: its
// labels (valid, a __name__, within lim's count), no native histograms,
// the resource and metric it may start, and the attributes its samples
// would carry, each a copy of the series' labels: a series of 1,000 labels and 100,000 samples is 1.2 MB on the
// wire and 10^8 attributes converted.
func checkRemoteWriteSeries(series []prompb.TimeSeries, lim decodeLimits) (conversion int64, _ error) {
	var (
		fanOut int64
		prev   [3]string // the previous series' __name__, job and instance
	)
	for i, ts := range series {
		if len(ts.Histograms) > 0 {
			return 0, fmt.Errorf("timeseries[%d]: native histograms are not supported; send classic histograms", i)
		}
		named, attrs := false, 0
		var (
			special [3]int    // __name__, job, instance: not attributes, but given once too
			values  [3]string // their values
		)
		for j, l := range ts.Labels {
			if err := checkRemoteWriteLabel(l.Name, l.Value); err != nil {
				return 0, fmt.Errorf("timeseries[%d].labels[%d]: %w", i, j, err)
			}
			k := -1
			switch l.Name {
			case "__name__":
				k, named = 0, l.Value != ""
			case "job":
				k = 1
			case "instance":
				k = 2
			default:
				attrs++
			}
			if k >= 0 {
				if special[k]++; special[k] > 1 {
					return 0, fmt.Errorf("timeseries[%d].labels[%d]: label name %q given twice", i, j, l.Name)
				}
				values[k] = l.Value
			}
		}
		if !named {
			return 0, fmt.Errorf("timeseries[%d]: no __name__ label", i)
		}
		if err := lim.checkLabelCount(attrs); err != nil {
			return 0, fmt.Errorf("timeseries[%d]: %w", i, err)
		}
		fanOut += int64(len(ts.Samples)) * int64(attrs) * rwAttributeCost
		// A series may start a resource (a job and instance not seen
		// before) and a metric (a name not seen in its resource): one
		// whose job, instance or name differs from the previous series'
		// is counted as starting them, without a map to know.
		switch {
		case i == 0 || values[1] != prev[1] || values[2] != prev[2]:
			fanOut += rwResourceCost + rwMetricCost
		case values[0] != prev[0]:
			fanOut += rwMetricCost
		}
		prev = values
		if lim.maxCost > 0 && fanOut > lim.maxCost {
			return 0, &fanOutError{series: i, factor: lim.factor}
		}
	}
	return fanOut, nil
}

// roomError is a conversion the gateway has no room for now
// (max_in_flight_bytes).
type roomError struct{ herr *httpError }

func (e *roomError) Error() string { return e.herr.msg }

// fanOutError is a request whose series' labels, copied to each of their
// samples, would take more than the conversion may.
type fanOutError struct {
	series int
	factor int64
}

func (e *fanOutError) Error() string {
	return fmt.Sprintf("by timeseries[%d], decoding the body and copying each series' labels to each of its samples would take more than %d times the tenant's max_decompressed_bytes; split the request",
		e.series, e.factor)
}

func isCumulative(name string, types map[string]prompb.MetricMetadata_MetricType) bool {
	if t, ok := types[name]; ok {
		return t == prompb.MetricMetadata_COUNTER
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if family, ok := strings.CutSuffix(name, suffix); ok {
			switch types[family] {
			case prompb.MetricMetadata_HISTOGRAM, prompb.MetricMetadata_GAUGEHISTOGRAM, prompb.MetricMetadata_SUMMARY:
				return types[family] != prompb.MetricMetadata_GAUGEHISTOGRAM
			}
		}
	}
	if family, ok := strings.CutSuffix(name, "_total"); ok {
		return types[family] == prompb.MetricMetadata_COUNTER
	}
	return false
}

// checkRemoteWriteLabel bounds a label without Prometheus 2's name rule:
// Prometheus 3 sends UTF-8 names.
func checkRemoteWriteLabel(name, val string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty label name")
	case len(name) > maxLabelNameLength:
		return fmt.Errorf("label name %q… is %d bytes, over %d", name[:32], len(name), maxLabelNameLength)
	case len(val) > maxLabelValueLength:
		return fmt.Errorf("label %q: value is %d bytes, over %d", quoteAtMost(name, 64), len(val), maxLabelValueLength)
	case !utf8.ValidString(name) || !utf8.ValidString(val):
		return fmt.Errorf("label %q: not valid UTF-8", quoteAtMost(name, 64))
	}
	return nil
}
