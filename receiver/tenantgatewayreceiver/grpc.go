package tenantgatewayreceiver

import (
	"context"
	"crypto/tls"
	"fmt"
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

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

const protoOTLPGRPC = "otlp_grpc"

// serveGRPC runs one OTLP/gRPC export through the same identity, limits
// and admission as the HTTP endpoints. gRPC has decoded the message
// already (bounded by max_recv_msg_size_mib), so the size limits apply to
// its encoded size after the fact.
func (g *gateway) serveGRPC(ctx context.Context, pl payload, size int) error {
	ctx, who, herr := g.identify(ctx, peerTLS(ctx))
	sc := g.counters.series(seriesKey{who.key, protoOTLPGRPC, pl.signal})
	sc.requests.Add(1)
	if herr == nil {
		herr = grpcRefusal(ctx)
	}
	if herr == nil {
		var n int
		if n, herr = g.admitGRPC(ctx, who, pl, size); herr == nil {
			sc.records.Add(int64(n))
			sc.bytes.Add(int64(size))
			return nil
		}
	}
	sc.refuse(herr.reason)
	return grpcError(herr)
}

func (g *gateway) admitGRPC(ctx context.Context, who caller, pl payload, size int) (int, *httpError) {
	lim, herr := g.enter(who)
	if herr != nil {
		return 0, herr
	}
	defer lim.leave()
	if m := who.limits.MaxDecompressedBytes; m > 0 && int64(size) > m {
		return 0, errTooLarge("message is %d bytes, over the tenant's max_decompressed_bytes %d", size, m)
	}
	if herr := takeBytes(lim, who, size); herr != nil {
		return 0, herr
	}
	return g.admit(ctx, lim, who, pl)
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
	ld := req.Logs()
	return plogotlp.NewExportResponse(), s.g.serveGRPC(ctx, payload{signal: signalLogs, logs: ld}, (&plog.ProtoMarshaler{}).LogsSize(ld))
}

type grpcMetrics struct {
	pmetricotlp.UnimplementedGRPCServer
	g *gateway
}

func (s *grpcMetrics) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	md := req.Metrics()
	return pmetricotlp.NewExportResponse(), s.g.serveGRPC(ctx, payload{signal: signalMetrics, metrics: md}, (&pmetric.ProtoMarshaler{}).MetricsSize(md))
}

type grpcTraces struct {
	ptraceotlp.UnimplementedGRPCServer
	g *gateway
}

func (s *grpcTraces) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	td := req.Traces()
	return ptraceotlp.NewExportResponse(), s.g.serveGRPC(ctx, payload{signal: signalTraces, traces: td}, (&ptrace.ProtoMarshaler{}).TracesSize(td))
}

// costCodec is the gRPC server's proto codec with the protobuf cost check
// in front: grpc-go decodes a message before any handler or authenticator
// sees the caller, so a message of empty records would cost up to 100
// times its size before the tenant's limits could refuse it. It refuses,
// before decoding, an OTLP request whose messages would cost more than
// protoCostFactor times the largest message the server receives; the
// client sees the reason (grpc-go reports it with code Internal).
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
	req, ok := v.(interface{ UnmarshalProto([]byte) error })
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
	// Room in max_in_flight_bytes for the message and its decoding, held
	// until the call ends (grpcInFlight); with none left it stays
	// undecoded and the handler refuses the call.
	n := int64(len(body)) + cost
	release, herr := c.g.inFlight.take(n, n)
	if herr != nil {
		c.g.grpcInFlight.file(v, grpcRoom{refused: herr})
		return nil
	}
	if err := req.UnmarshalProto(body); err != nil {
		release()
		return err
	}
	c.g.grpcInFlight.file(v, grpcRoom{release: release})
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
