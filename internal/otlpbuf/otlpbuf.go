// Package otlpbuf marshals OTLP export requests into buffers it reuses.
//
// pdata's MarshalProto allocates a fresh buffer the size of the request
// for each batch: about a megabyte per 8,192-record batch, zeroed, then
// dropped once sent, about a sixth of what the collector allocates on a
// dirty log load (docs/benchmarks.md). Large spans freed that often are
// handed back to the kernel by the scavenger and faulted in again, and
// each one brings the next garbage collection nearer. A Buf's memory comes
// from a small free list and goes back to it when the last holder lets go.
//
// The memory of one tenant's request is reused for another tenant's, so
// who may read it and until when is the whole of this package's contract:
// every holder takes a reference (Hold, Body) and gives it back (Drop,
// Close); the memory returns to the free list only when the count reaches
// zero, a Body refuses to read once closed, and Bytes is cut to its length
// so nothing can re-slice into the stale bytes beyond it.
package otlpbuf

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// Buf is one marshaled export request, shared by reference count. The
// marshaler holds the first reference.
type Buf struct {
	data []byte // the request, cut to its length
	mem  []byte // the buffer data lies in, from the free list; nil under minPooled
	refs atomic.Int32
}

// MarshalLogs marshals ld as an OTLP logs export request.
func MarshalLogs(ld plog.Logs) (*Buf, error) {
	if fast.ok {
		return marshal((&plog.ProtoMarshaler{}).LogsSize(ld), func(b []byte) int { return fast.logs(origOf(&ld), b) })
	}
	return unpooled(plogotlp.NewExportRequestFromLogs(ld).MarshalProto())
}

// MarshalMetrics marshals md as an OTLP metrics export request.
func MarshalMetrics(md pmetric.Metrics) (*Buf, error) {
	if fast.ok {
		return marshal((&pmetric.ProtoMarshaler{}).MetricsSize(md), func(b []byte) int { return fast.metrics(origOf(&md), b) })
	}
	return unpooled(pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto())
}

// MarshalTraces marshals td as an OTLP traces export request.
func MarshalTraces(td ptrace.Traces) (*Buf, error) {
	if fast.ok {
		return marshal((&ptrace.ProtoMarshaler{}).TracesSize(td), func(b []byte) int { return fast.traces(origOf(&td), b) })
	}
	return unpooled(ptraceotlp.NewExportRequestFromTraces(td).MarshalProto())
}

// minPooled is the smallest request marshaled into reused memory. A
// smaller one gets memory of its own size: a class's buffer would be
// mostly empty (a 4 KiB buffer for a one-record request, 74 times what the
// queues count of it, with a part per tenant queued at 10,000 tenants:
// TestH29rSmallRequestsPinWholeClasses), and small allocations are not
// what paces the garbage collector.
const minPooled = 32 << 10

// marshal writes a request of size bytes with write, which fills a
// buffer of exactly that length from its end (pdata's order) and returns
// how much it wrote.
func marshal(size int, write func([]byte) int) (*Buf, error) {
	var mem []byte
	if size >= minPooled {
		mem = free.get(size)
	}
	var data []byte
	if mem != nil {
		data = mem[:size:size]
	} else {
		data = make([]byte, size)
	}
	if n := write(data); n != size {
		// pdata sized the request one way and wrote it another: the
		// bytes before data[size-n] are stale. Never sent.
		if mem != nil {
			free.put(mem)
		}
		return nil, errSize
	}
	b := &Buf{data: data, mem: mem}
	b.refs.Store(1)
	return b, nil
}

var errSize = errors.New("otlpbuf: marshaled size differs from the computed size")

func unpooled(data []byte, err error) (*Buf, error) {
	if err != nil {
		return nil, err
	}
	b := &Buf{data: data}
	b.refs.Store(1)
	return b, nil
}

// Bytes is the request. Valid while the caller holds a reference.
func (b *Buf) Bytes() []byte { return b.data }

// Hold takes another reference, for a holder that outlives the current
// one's. It reports false, taking nothing, when the count has already
// reached zero: the memory may be another request's by now.
func (b *Buf) Hold() bool {
	if b == nil {
		return false
	}
	for {
		n := b.refs.Load()
		if n <= 0 {
			return false
		}
		if b.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Drop gives a reference back; the last one returns the memory to the
// free list. A nil Buf has none.
func (b *Buf) Drop() {
	if b == nil {
		return
	}
	switch n := b.refs.Add(-1); {
	case n == 0:
		if b.mem != nil {
			free.put(b.mem)
		}
	case n < 0:
		panic("otlpbuf: reference dropped twice")
	}
}

// Body is the request as an HTTP request body holding its own reference
// until closed, for a transport that may read or close it after the call
// that sent it returned (net/http's RoundTrip contract). It fails when the
// count had reached zero.
func (b *Buf) Body() (io.ReadCloser, error) {
	if !b.Hold() {
		return nil, errReleased
	}
	return &body{buf: b, r: bytes.NewReader(b.data)}, nil
}

var errReleased = errors.New("otlpbuf: the request's buffer was already released")

// body reads a Buf until closed. The lock orders a Close against a read
// running on another goroutine (the transport's writer): once Close
// returns, no read touches the memory again.
type body struct {
	mu     sync.Mutex
	buf    *Buf
	r      *bytes.Reader
	closed bool
}

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReleased
	}
	return b.r.Read(p)
}

func (b *body) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		b.r = nil
		b.buf.Drop()
	}
	return nil
}
