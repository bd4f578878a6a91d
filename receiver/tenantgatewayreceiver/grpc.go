package tenantgatewayreceiver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

const protoOTLPGRPC = "otlp_grpc"

// serveGRPC runs one OTLP/gRPC export through the same identity, limits
// and admission as the HTTP endpoints. The codec checked the message's
// cost (bounded by max_recv_msg_size_mib) and left it undecoded
// (grpcInFlight); it is decoded here, once the caller is known and
// admitted, in max_in_flight_bytes like an HTTP body. decode fills the
// request the handler was given; built then reads it.
func (g *gateway) serveGRPC(ctx context.Context, signal string, decode func([]byte) error, built func() payload) error {
	ctx, who, herr := g.identify(ctx, peerTLS(ctx))
	sc := g.counters.series(seriesKey{who.key, protoOTLPGRPC, signal})
	sc.requests.Add(1)
	if herr == nil {
		var n, size int
		if n, size, herr = g.admitGRPC(ctx, who, decode, built); herr == nil {
			sc.records.Add(int64(n))
			sc.bytes.Add(int64(size))
			return nil
		}
	}
	sc.refuse(herr.reason)
	return grpcError(herr)
}

func (g *gateway) admitGRPC(ctx context.Context, who caller, decode func([]byte) error, built func() payload) (int, int, *httpError) {
	lim, herr := g.enter(who)
	if herr != nil {
		return 0, 0, herr
	}
	defer lim.leave()
	msg, herr := grpcTake(ctx)
	if herr != nil {
		return 0, 0, herr
	}
	freed := false
	free := func() {
		if !freed {
			freed = true
			msg.body.Free()
		}
	}
	defer free()
	body := msg.body.ReadOnlyData()
	size := len(body)
	if m := who.limits.MaxDecompressedBytes; m > 0 && int64(size) > m {
		return 0, 0, errTooLarge("message is %d bytes, over the tenant's max_decompressed_bytes %d", size, m)
	} else if m > 0 && msg.cost > protoCostFactor*m {
		// The codec bounded it by max_recv_msg_size_mib, knowing no
		// tenant; an HTTP body gets the tenant's bound (checkRequestCost).
		return 0, 0, errTooLarge("message of %d bytes holds so many messages that decoding it would take over %d MiB, more than %d times the tenant's max_decompressed_bytes %d; split the request",
			size, msg.cost>>20, protoCostFactor, m)
	}
	if herr := takeBytes(lim, who, size); herr != nil {
		return 0, 0, herr
	}
	// Room in max_in_flight_bytes for the message and its decoding, held
	// until the pipeline has it.
	n := int64(size) + msg.cost
	release, herr := g.inFlight.take(n, n)
	if herr != nil {
		return 0, 0, herr
	}
	defer release()
	err := decode(body)
	free() // pdata copies what it keeps
	if err != nil {
		return 0, 0, &httpError{status: http.StatusBadRequest, reason: "invalid_protobuf", msg: err.Error()}
	}
	records, herr := g.admit(ctx, lim, who, built())
	return records, size, herr
}

// grpcError is the status OTLP/gRPC clients expect; throttling carries a
// RetryInfo with the delay.
func grpcError(e *httpError) error {
	st := status.New(grpcCode(e.status), e.msg)
	if e.retryAfter > 0 {
		if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(e.retryAfter.Round(time.Millisecond))}); err == nil {
			st = withInfo
		}
	}
	return st.Err()
}

func peerTLS(ctx context.Context) *tls.ConnectionState {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return &info.State
	}
	return nil
}

type grpcLogs struct {
	plogotlp.UnimplementedGRPCServer
	g *gateway
}

func (s *grpcLogs) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	return plogotlp.NewExportResponse(), s.g.serveGRPC(ctx, signalLogs, req.UnmarshalProto,
		func() payload { return payload{signal: signalLogs, logs: req.Logs()} })
}

type grpcMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	g *gateway
}

func (s *grpcMetrics) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	return pmetricotlp.NewExportResponse(), s.g.serveGRPC(ctx, signalMetrics, req.UnmarshalProto,
		func() payload { return payload{signal: signalMetrics, metrics: req.Metrics()} })
}

type grpcTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	g *gateway
}

func (s *grpcTraces) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return ptraceotlp.NewExportResponse(), s.g.serveGRPC(ctx, signalTraces, req.UnmarshalProto,
		func() payload { return payload{signal: signalTraces, traces: req.Traces()} })
}

// costCodec is the gRPC server's proto codec with the protobuf cost check
// in front: grpc-go hands a message to the codec before any handler or
// authenticator sees the caller. It refuses an OTLP request whose
// messages would cost more than protoCostFactor times the largest message
// the server receives (the client sees the reason; grpc-go reports it
// with code Internal) and leaves the others undecoded for serveGRPC
// (grpcInFlight), which decodes them once it knows and admits the caller.
type costCodec struct {
	encoding.CodecV2 // pdata's, registered as "proto"
	g                *gateway
	limit            int64
}

func newCostCodec(g *gateway, maxRecvMiB int) costCodec {
	if maxRecvMiB <= 0 {
		maxRecvMiB = 4 // grpc-go's default
	}
	return costCodec{CodecV2: encoding.GetCodecV2("proto"), g: g, limit: protoCostFactor * int64(maxRecvMiB) << 20}
}

func (c costCodec) Unmarshal(data mem.BufferSlice, v any) error {
	_, ok := v.(interface{ UnmarshalProto([]byte) error })
	signal := grpcSignal(v)
	if !ok || signal == "" {
		return c.CodecV2.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	body := buf.ReadOnlyData()
	cost, flaw := protoScan(protoSchema(signal), body, c.limit)
	if cost > c.limit {
		c.g.counters.series(seriesKey{unauthenticatedTenant, protoOTLPGRPC, signal}).refuse("too_large")
		return fmt.Errorf("message of %d bytes holds so many OTLP messages that decoding it would take over %d MiB, %d times max_recv_msg_size_mib; split the request",
			len(body), c.limit>>20, protoCostFactor)
	}
	if flaw != nil {
		// Not left to pdata, which would decode what follows the flaw.
		c.g.counters.series(seriesKey{unauthenticatedTenant, protoOTLPGRPC, signal}).refuse("invalid_protobuf")
		return fmt.Errorf("message is not a valid OTLP protobuf %s: %w", otlpRequestName(signal), flaw)
	}
	// Left undecoded for serveGRPC, which decodes it once it knows and
	// admits the caller (grpcInFlight).
	buf.Ref() // freed by serveGRPC, or at the call's end
	if !c.g.grpcInFlight.file(v, &grpcMessage{body: buf, cost: cost}) {
		buf.Free()
		return errors.New("a unary OTLP Export call carries one request message")
	}
	return nil
}

// grpcSignal is the signal of an OTLP export request pdata's gRPC server
// decodes into (its types are internal to pdata), or "".
func grpcSignal(v any) string {
	switch name := reflect.TypeOf(v).String(); {
	case strings.HasSuffix(name, ".ExportLogsServiceRequest"):
		return signalLogs
	case strings.HasSuffix(name, ".ExportMetricsServiceRequest"):
		return signalMetrics
	case strings.HasSuffix(name, ".ExportTraceServiceRequest"):
		return signalTraces
	}
	return ""
}
