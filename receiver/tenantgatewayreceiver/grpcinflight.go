package tenantgatewayreceiver

import (
	"context"
	"net/http"
	"sync"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/stats"
)

// grpcInFlight hands an OTLP/gRPC message, undecoded, from the codec to
// its call, so that it is decoded (and counted in max_in_flight_bytes) in
// serveGRPC once the caller is known and admitted, as the HTTP endpoints
// read and count a body. grpc-go runs the codec before any handler,
// interceptor or authenticator sees the call and then, for a unary call,
// waits for the client to close its side; room taken there would be held
// by whoever sends a message and never closes, key or no key, shutting
// every tenant out (hostile review h27x). The codec has no context, so it
// files the message's bytes under the (empty) message it would have
// decoded into; this stats handler, which sees that message (InPayload)
// and the call's end (End, which grpc-go reports however the call ends),
// ties them to the call and frees what the call did not take.
type grpcInFlight struct {
	mu    sync.Mutex
	filed map[any]*grpcMessage // by the message the codec left undecoded
}

// grpcMessage is one message's bytes and what the cost check says
// decoding it takes.
type grpcMessage struct {
	body    mem.Buffer
	cost    int64
	claimed bool // by a call's InPayload
}

// grpcCall is one call's message, while the call has not taken it.
type grpcCall struct {
	mu      sync.Mutex
	claimed bool // an InPayload handed a message over
	key     any
	msg     *grpcMessage
	ended   bool
}

type grpcCallKey struct{}

// file hands msg, left undecoded in v, to the call that receives v. It
// refuses a second message for the same v: grpc-go reads a unary call's
// message again into the same v to check that no other follows, and
// reports no InPayload for it.
func (f *grpcInFlight) file(v any, msg *grpcMessage) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filed == nil {
		f.filed = make(map[any]*grpcMessage)
	}
	if _, ok := f.filed[v]; ok {
		return false
	}
	f.filed[v] = msg
	return true
}

// claim marks v's message as its call's; it stays filed (so a second
// message for v is refused) until drop at the call's end.
func (f *grpcInFlight) claim(v any) *grpcMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	msg := f.filed[v]
	if msg != nil {
		msg.claimed = true
	}
	return msg
}

func (f *grpcInFlight) drop(v any) {
	f.mu.Lock()
	delete(f.filed, v)
	f.mu.Unlock()
}

// pending is how many messages no call has claimed yet.
func (f *grpcInFlight) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, msg := range f.filed {
		if !msg.claimed {
			n++
		}
	}
	return n
}

// held is how many messages are filed, claimed or not.
func (f *grpcInFlight) held() int {
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
		msg := f.claim(s.Payload)
		if msg == nil {
			return // not a message the codec left undecoded
		}
		if call != nil {
			call.mu.Lock()
			if !call.claimed && !call.ended {
				call.claimed, call.key, call.msg = true, s.Payload, msg
				call.mu.Unlock()
				return
			}
			call.mu.Unlock()
		}
		// No call to hand it to (or a second message on a call that
		// file let through): nothing will take it.
		f.drop(s.Payload)
		msg.body.Free()
	case *stats.End:
		if call == nil {
			return
		}
		call.mu.Lock()
		key, msg := call.key, call.msg
		call.msg, call.ended = nil, true
		call.mu.Unlock()
		if key != nil {
			f.drop(key)
		}
		if msg != nil {
			msg.body.Free()
		}
	}
}

func (f *grpcInFlight) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (f *grpcInFlight) HandleConn(context.Context, stats.ConnStats) {}

// grpcTake hands the call's message to serveGRPC, which frees its body
// once decoded. A call whose message no InPayload handed over is refused
// rather than taken for an empty export.
func grpcTake(ctx context.Context) (*grpcMessage, *httpError) {
	call, _ := ctx.Value(grpcCallKey{}).(*grpcCall)
	refused := &httpError{status: http.StatusInternalServerError, reason: "internal",
		msg: "the gateway cannot account for this message in max_in_flight_bytes"}
	if call == nil {
		return nil, refused
	}
	call.mu.Lock()
	defer call.mu.Unlock()
	msg := call.msg
	call.msg = nil
	if msg == nil {
		return nil, refused
	}
	return msg, nil
}
