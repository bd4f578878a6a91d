// Package selfmetrics holds the counts behind a component's observable
// self-metrics. The hot path adds to atomics it looked up once (or keeps),
// and the callbacks registered on the component's TelemetryBuilder read
// them at collection time, so counting costs an atomic add however many
// tenants, backends or reasons a batch touches.
package selfmetrics

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Series holds one *V per key, created on first use and kept for the
// component's lifetime, so the counters in it stay monotonic. Keys must be
// bounded (policy tenants, configured backends, fixed reasons): a series is
// never removed. The zero value is ready to use.
type Series[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]*V
}

// Get returns the value of k, creating a zero one the first time. The
// pointer stays valid: callers on a hot path keep it.
func (s *Series[K, V]) Get(k K) *V {
	s.mu.RLock()
	v, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.m[k]; ok {
		return v
	}
	if s.m == nil {
		s.m = map[K]*V{}
	}
	v = new(V)
	s.m[k] = v
	return v
}

// Range calls fn for every series, for a collection callback. fn must not
// call Get on s.
func (s *Series[K, V]) Range(fn func(K, *V)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for k, v := range s.m {
		fn(k, v)
	}
}

// ObserveNonZero reports n's value with attrs unless it is zero, so a
// counter's series appears once something was counted in it.
func ObserveNonZero(o metric.Int64Observer, n *atomic.Int64, attrs ...attribute.KeyValue) {
	if v := n.Load(); v != 0 {
		o.Observe(v, metric.WithAttributes(attrs...))
	}
}
