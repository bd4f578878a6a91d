package tenantgatewayreceiver

import (
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
		decode: func(_ string, body []byte) (payload, *httpError) {
			md, err := decodeRemoteWrite(body)
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
// gauge otherwise.
func decodeRemoteWrite(body []byte) (pmetric.Metrics, error) {
	var req prompb.WriteRequest
	if err := req.Unmarshal(body); err != nil {
		return pmetric.Metrics{}, fmt.Errorf("body is not a valid remote write WriteRequest protobuf: %w", err)
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
	for i, ts := range req.Timeseries {
		if len(ts.Histograms) > 0 {
			return pmetric.Metrics{}, fmt.Errorf("timeseries[%d]: native histograms are not supported; send classic histograms", i)
		}
		var name, job, instance string
		for j, l := range ts.Labels {
			if err := checkRemoteWriteLabel(l.Name, l.Value); err != nil {
				return pmetric.Metrics{}, fmt.Errorf("timeseries[%d].labels[%d]: %w", i, j, err)
			}
			switch l.Name {
			case "__name__":
				name = l.Value
			case "job":
				job = l.Value
			case "instance":
				instance = l.Value
			}
		}
		if name == "" {
			return pmetric.Metrics{}, fmt.Errorf("timeseries[%d]: no __name__ label", i)
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
			attrs := dp.Attributes()
			attrs.EnsureCapacity(len(ts.Labels))
			for _, l := range ts.Labels {
				if l.Name != "__name__" && l.Name != "job" && l.Name != "instance" {
					attrs.PutStr(l.Name, l.Value)
				}
			}
		}
	}
	return md, nil
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
