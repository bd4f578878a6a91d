package tenantgatewayreceiver

import (
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	signalLogs    = "logs"
	signalMetrics = "metrics"
	signalTraces  = "traces"

	protoOTLP        = "otlp"
	protoLoki        = "loki"
	protoRemoteWrite = "remote_write"

	mediaProtobuf = "application/x-protobuf"
	mediaJSON     = "application/json"
)

// payload is one decoded request, of one signal.
type payload struct {
	signal  string
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
}

func (p payload) records() int {
	switch p.signal {
	case signalLogs:
		return p.logs.LogRecordCount()
	case signalMetrics:
		return p.metrics.DataPointCount()
	default:
		return p.traces.SpanCount()
	}
}

// route is one endpoint: its protocol, what it accepts and how it decodes.
type route struct {
	path       string
	protocol   string
	signal     string
	mediaTypes []string
	// checkParams refuses media type parameters the decoder cannot honour.
	checkParams func(params map[string]string) *httpError
	// implicitSnappy says whether a body of that media type is a snappy
	// block even without Content-Encoding (Loki protobuf, remote write).
	implicitSnappy func(mediaType string) bool
	decode         func(mediaType string, body []byte) (payload, *httpError)
	respond        func(w http.ResponseWriter, mediaType string)
	writeError     func(w http.ResponseWriter, r *http.Request, e *httpError)
}

func allRoutes() []*route {
	return []*route{
		otlpRoute("/v1/logs", signalLogs),
		otlpRoute("/v1/metrics", signalMetrics),
		otlpRoute("/v1/traces", signalTraces),
		lokiRoute(),
		remoteWriteRoute(),
	}
}

func noContent(w http.ResponseWriter, _ string) { w.WriteHeader(http.StatusNoContent) }

// checkAttributes refuses a payload with a record over the tenant's
// max_attributes_per_record, naming the first such record.
func checkAttributes(p payload, maxAttrs int64) *httpError {
	if maxAttrs <= 0 {
		return nil
	}
	over := func(where string, n int) *httpError {
		return errBadRequest("too_many_attributes", "%s has %d attributes, over the tenant's max_attributes_per_record %d", where, n, maxAttrs)
	}
	switch p.signal {
	case signalLogs:
		for i, rl := range p.logs.ResourceLogs().All() {
			for j, sl := range rl.ScopeLogs().All() {
				for k, lr := range sl.LogRecords().All() {
					if n := lr.Attributes().Len(); int64(n) > maxAttrs {
						return over(fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]", i, j, k), n)
					}
				}
			}
		}
	case signalTraces:
		for i, rs := range p.traces.ResourceSpans().All() {
			for j, ss := range rs.ScopeSpans().All() {
				for k, s := range ss.Spans().All() {
					if n := s.Attributes().Len(); int64(n) > maxAttrs {
						return over(fmt.Sprintf("resourceSpans[%d].scopeSpans[%d].spans[%d]", i, j, k), n)
					}
				}
			}
		}
	case signalMetrics:
		for i, rm := range p.metrics.ResourceMetrics().All() {
			for j, sm := range rm.ScopeMetrics().All() {
				for k, m := range sm.Metrics().All() {
					if n := maxDataPointAttributes(m); int64(n) > maxAttrs {
						return over(fmt.Sprintf("resourceMetrics[%d].scopeMetrics[%d].metrics[%d] (%s), a data point,", i, j, k, m.Name()), n)
					}
				}
			}
		}
	}
	return nil
}

func maxDataPointAttributes(m pmetric.Metric) int {
	n := 0
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			n = max(n, dp.Attributes().Len())
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			n = max(n, dp.Attributes().Len())
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			n = max(n, dp.Attributes().Len())
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			n = max(n, dp.Attributes().Len())
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			n = max(n, dp.Attributes().Len())
		}
	}
	return n
}
