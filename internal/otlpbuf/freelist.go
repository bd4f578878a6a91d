package otlpbuf

import (
	"math/bits"
	"sync/atomic"

	"github.com/tenancyhq/tenancy/internal/freelist"
)

// The free list keeps buffers of a few sizes, a quarter of a power of two
// apart (a request uses at least four fifths of its buffer), from 4 KiB to
// 8 MiB; a larger request gets a buffer of its own. It keeps at most
// perClass buffers of a size and maxIdle bytes in all: what a collector
// holds for reuse beyond what it is sending.
const (
	minShift = 12 // 4 KiB
	maxSize  = 8 << 20
	perClass = 8
	maxIdle  = 16 << 20
)

var free = newFreeList()

type freeList struct {
	lists [classes]freelist.List
	idle  atomic.Int64 // bytes kept in lists
}

func newFreeList() *freeList {
	f := &freeList{}
	for i := range f.lists {
		f.lists[i].Max = perClass
	}
	return f
}

// classes is how many sizes the free list keeps: four per power of two
// from 2^minShift up to maxSize (classOf(maxSize)+1, which a test checks).
const classes = 45

// classSize is the size of class i.
func classSize(i int) int { return (4 + i%4) << (minShift - 2 + i/4) }

// classOf is the smallest class holding n bytes, -1 above maxSize.
func classOf(n int) int {
	if n > maxSize {
		return -1
	}
	if n <= 1<<minShift {
		return 0
	}
	k := bits.Len(uint(n - 1)) // 2^(k-1) < n <= 2^k
	step := 1 << (k - 3)
	q := (n - 1<<(k-1) + step - 1) / step // 1..4 quarters above 2^(k-1)
	return (k-1-minShift)*4 + q
}

// get returns a buffer of at least n bytes, of its class's size.
func (f *freeList) get(n int) []byte {
	i := classOf(n)
	if i < 0 {
		return make([]byte, n)
	}
	if b := f.lists[i].Get(); b != nil {
		f.idle.Add(-int64(cap(b)))
		return b
	}
	return make([]byte, classSize(i))
}

// put keeps b for reuse when there is room; no reference to b may remain.
func (f *freeList) put(b []byte) {
	i := classOf(cap(b))
	if i < 0 || classSize(i) != cap(b) {
		return
	}
	if f.idle.Add(int64(cap(b))) > maxIdle || !f.lists[i].Put(b) {
		f.idle.Add(-int64(cap(b)))
	}
}
