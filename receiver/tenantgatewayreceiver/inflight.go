package tenantgatewayreceiver

import (
	"net/http"
	"sync/atomic"
	"time"
)

// inFlight is the memory every tenant's requests being decoded take at
// once (max_in_flight_bytes): each takes its body's size and its decode
// cost while it is decoded and handed to the pipeline. Per-tenant limits
// bound one tenant's requests (max_concurrent_requests times what one
// may cost); this bounds many tenants' at once, so a burst of them is
// refused and retried rather than taking the collector's memory.
type inFlight struct {
	max  int64 // 0: no bound
	used atomic.Int64
}

// take counts n more bytes of a request in flight until the returned
// release is called, or refuses: 413 when the request's total (n and what
// it took before) is over the bound alone, 503 with Retry-After when
// others' requests hold the room.
func (f *inFlight) take(n, total int64) (release func(), _ *httpError) {
	if f.max <= 0 {
		return func() {}, nil
	}
	if total > f.max {
		return nil, errTooLarge("request would take %d MiB to decode, over the gateway's max_in_flight_bytes of %d MiB; split it", total>>20, f.max>>20)
	}
	for {
		used := f.used.Load()
		if used+n > f.max {
			return nil, &httpError{status: http.StatusServiceUnavailable, reason: "gateway_busy", retryAfter: time.Second,
				msg: "the gateway is decoding as many requests as its max_in_flight_bytes allows; retry"}
		}
		if f.used.CompareAndSwap(used, used+n) {
			return func() { f.used.Add(-n) }, nil
		}
	}
}
