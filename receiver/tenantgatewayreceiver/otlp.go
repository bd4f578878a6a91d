package tenantgatewayreceiver

import (
	"encoding/json"
	"mime"
	"net/http"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

func otlpRoute(path, signal string) *route {
	return &route{
		path: path, protocol: protoOTLP, signal: signal,
		mediaTypes: []string{mediaProtobuf, mediaJSON},
		proto:      func() protoRequest { return otlpProto(signal) },
		decode: func(mt string, body []byte, _ decodeLimits) (payload, *httpError) {
			return decodeOTLP(signal, mt == mediaJSON, body)
		},
		respond:    func(w http.ResponseWriter, mt string) { respondOTLP(w, signal, mt) },
		writeError: writeOTLPError,
	}
}

type otlpRequest interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

// decodeOTLP decodes an OTLP/HTTP export request of signal.
func decodeOTLP(signal string, isJSON bool, body []byte) (payload, *httpError) {
	pl := payload{signal: signal}
	switch signal {
	case signalLogs:
		r := plogotlp.NewExportRequest()
		pl.logs = r.Logs()
		return pl, unmarshalOTLP(&r, "ExportLogsServiceRequest", isJSON, body)
	case signalMetrics:
		r := pmetricotlp.NewExportRequest()
		pl.metrics = r.Metrics()
		return pl, unmarshalOTLP(&r, "ExportMetricsServiceRequest", isJSON, body)
	default:
		r := ptraceotlp.NewExportRequest()
		pl.traces = r.Traces()
		return pl, unmarshalOTLP(&r, "ExportTraceServiceRequest", isJSON, body)
	}
}

func unmarshalOTLP(req otlpRequest, name string, isJSON bool, body []byte) *httpError {
	if isJSON {
		if err := req.UnmarshalJSON(body); err != nil {
			// pdata's error places the problem only within an excerpt; a
			// syntax error gets its line and column from encoding/json.
			var raw json.RawMessage
			if jerr := json.Unmarshal(body, &raw); jerr != nil {
				return errBadRequest("invalid_json", "%v", jsonError("OTLP/JSON "+name, body, jerr))
			}
			return errBadRequest("invalid_json", "body is not a valid OTLP/JSON %s: %s", name, quoteAtMost(err.Error(), 1024))
		}
		return nil
	}
	if err := req.UnmarshalProto(body); err != nil {
		return errBadRequest("invalid_protobuf", "body is not a valid OTLP protobuf %s: %v", name, err)
	}
	return nil
}

func respondOTLP(w http.ResponseWriter, signal, mt string) {
	var (
		b   []byte
		err error
	)
	isJSON := mt == mediaJSON
	switch signal {
	case signalLogs:
		r := plogotlp.NewExportResponse()
		b, err = marshalResponse(isJSON, r.MarshalJSON, r.MarshalProto)
	case signalMetrics:
		r := pmetricotlp.NewExportResponse()
		b, err = marshalResponse(isJSON, r.MarshalJSON, r.MarshalProto)
	default:
		r := ptraceotlp.NewExportResponse()
		b, err = marshalResponse(isJSON, r.MarshalJSON, r.MarshalProto)
	}
	if err != nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", mt)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func marshalResponse(isJSON bool, j, p func() ([]byte, error)) ([]byte, error) {
	if isJSON {
		return j()
	}
	return p()
}

// writeOTLPError answers as OTLP/HTTP asks: a google.rpc.Status in the
// request's encoding (JSON unless the request was protobuf).
func writeOTLPError(w http.ResponseWriter, r *http.Request, e *httpError) {
	st := &spb.Status{Code: int32(grpcCode(e.status)), Message: e.msg}
	var (
		b   []byte
		err error
		ct  = mediaJSON
	)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == mediaProtobuf {
		ct = mediaProtobuf
		b, err = proto.Marshal(st)
	} else {
		b, err = protojson.Marshal(st)
	}
	if err != nil {
		http.Error(w, e.msg, e.status)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

func grpcCode(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusMethodNotAllowed:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusNotFound:
		return codes.Unimplemented
	case http.StatusRequestEntityTooLarge:
		return codes.InvalidArgument
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusInternalServerError:
		return codes.Internal
	}
	return codes.Unknown
}

// quoteAtMost keeps an error that quotes the client's body short.
func quoteAtMost(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
