package tenantgatewayreceiver

import (
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
	// proto is the protobuf request the route decodes, whose cost is
	// checked before it is (protoScan).
	proto      func() protoRequest
	decode     func(mediaType string, body []byte, lim decodeLimits) (payload, *httpError)
	respond    func(w http.ResponseWriter, mediaType string)
	writeError func(w http.ResponseWriter, r *http.Request, e *httpError)
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
