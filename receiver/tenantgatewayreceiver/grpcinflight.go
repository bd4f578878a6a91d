package tenantgatewayreceiver

import (
	"context"
	"net/http"
	"sync"

	"google.golang.org/grpc/stats"
)

// grpcInFlight counts OTLP/gRPC messages in max_in_flight_bytes, as the
// HTTP endpoints count their bodies. grpc-go decodes a message (in
// costCodec) before any handler, interceptor or authenticator sees the
// call, and the codec has no context, so the room the codec takes is
// handed to the call by the message itself: the codec files it under the
// message it decodes into, and this stats handler, which sees that message
// (InPayload) and the call's end (End, which grpc-go reports however the
// call ends, an authenticator's refusal included), claims it for the call
// and gives it back at the end.
//
// When there is no room the codec leaves the message undecoded and files
// the refusal instead; serveGRPC answers it (Unavailable with RetryInfo,
// so OTLP clients retry) once it knows the caller. A codec error would
// reach the client as Internal, which OTLP clients do not retry.
type grpcInFlight struct {
	mu    sync.Mutex
	filed map[any]grpcRoom // by the message the codec decoded into
}

// grpcRoom is what the codec took for one message, or why it took none.
type grpcRoom struct {
	release func()
	refused *httpError
}

// grpcCall is one call's claim: what its message took, and whether the
// handler saw the message's InPayload at all.
type grpcCall struct {
	mu      sync.Mutex
	claimed bool
	room    grpcRoom
	ended   bool
}

type grpcCallKey struct{}

// file hands the codec's room for msg to the call that receives it.
func (f *grpcInFlight) file(msg any, room grpcRoom) {
	f.mu.Lock()
	if f.filed == nil {
		f.filed = make(map[any]grpcRoom)
	}
	f.filed[msg] = room
	f.mu.Unlock()
}

func (f *grpcInFlight) take(msg any) (grpcRoom, bool) {
	f.mu.Lock()
	room, ok := f.filed[msg]
	delete(f.filed, msg)
	f.mu.Unlock()
	return room, ok
}

// pending is how many messages' rooms no call has claimed yet.
func (f *grpcInFlight) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.filed)
}

func (f *grpcInFlight) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, grpcCallKey{}, &grpcCall{})
}

func (f *grpcInFlight) HandleRPC(ctx context.Context, s stats.RPCStats) {
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	switch s := s.(type) {
	case *stats.InPayload:
		room, ok := f.take(s.Payload)
		if call == nil {
			if ok && room.release != nil {
				room.release()
			}
			return
		}
		call.mu.Lock()
		call.claimed = true
		if ok {
			if call.room.release != nil || call.ended {
				// A second message on one call (not OTLP's unary
				// Export) or one after the end: nothing holds it.
				if room.release != nil {
					room.release()
				}
			} else {
				call.room = room
			}
		}
		call.mu.Unlock()
	case *stats.End:
		if call == nil {
			return
		}
		call.mu.Lock()
		release := call.room.release
		call.room.release, call.ended = nil, true
		call.mu.Unlock()
		if release != nil {
			release()
		}
	}
}

func (f *grpcInFlight) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (f *grpcInFlight) HandleConn(context.Context, stats.ConnStats) {}

// grpcRefusal is why the codec did not decode the call's message, if it
// did not. A call whose message no InPayload handed over is refused
// rather than taken for an empty export: its message may not have been
// decoded.
func grpcRefusal(ctx context.Context) *httpError {
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	if call == nil {
		return &httpError{status: http.StatusInternalServerError, reason: "internal",
			msg: "the gateway cannot account for this message in max_in_flight_bytes"}
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	if !call.claimed {
		return &httpError{status: http.StatusInternalServerError, reason: "internal",
			msg: "the gateway cannot account for this message in max_in_flight_bytes"}
	}
	return call.room.refused
}
