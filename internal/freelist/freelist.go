// Package freelist keeps byte buffers for reuse across garbage
// collections.
//
// A sync.Pool is emptied by every second collection, and at the small heap
// of a lightly loaded collector that is every few tens of milliseconds: a
// buffer of hundreds of kilobytes put back after each batch is then
// allocated, zeroed and, once freed, scavenged again nearly every time
// (docs/benchmarks.md, "Stop 29: the marshaled request in reused
// memory"). A List keeps at most Max buffers, so what it holds idle is
// bounded by its owner.
package freelist

import "sync"

// List is a bounded stack of buffers. The zero List keeps none; set Max.
type List struct {
	// Max is how many buffers the list keeps at most.
	Max  int
	mu   sync.Mutex
	bufs [][]byte
}

// Get returns a buffer put earlier, at its full capacity and holding
// whatever it held, or nil when the list is empty.
func (l *List) Get() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.bufs)
	if n == 0 {
		return nil
	}
	b := l.bufs[n-1]
	l.bufs[n-1] = nil
	l.bufs = l.bufs[:n-1]
	return b[:cap(b)]
}

// Put keeps b for a later Get and reports whether it did (false: the list
// is full). No reference to b may remain with the caller.
func (l *List) Put(b []byte) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.bufs) >= l.Max {
		return false
	}
	l.bufs = append(l.bufs, b)
	return true
}

// Len is how many buffers the list holds.
func (l *List) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.bufs)
}
