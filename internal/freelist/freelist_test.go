package freelist

import (
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// What a sync.Pool loses at a collection, the list keeps.
func TestKeepsAcrossCollections(t *testing.T) {
	l := List{Max: 2}
	b := make([]byte, 10, 1<<20)
	require.True(t, l.Put(b))
	runtime.GC()
	runtime.GC()
	got := l.Get()
	assert.Equal(t, addr(b), addr(got))
	assert.Len(t, got, 1<<20, "at its full capacity")
	assert.Nil(t, l.Get())
}

func TestBounded(t *testing.T) {
	l := List{Max: 3}
	for i := range 5 {
		assert.Equal(t, i < 3, l.Put(make([]byte, 8)), "put %d", i)
	}
	assert.Equal(t, 3, l.Len())
	var zero List
	assert.False(t, zero.Put(make([]byte, 8)))
	assert.Nil(t, zero.Get())
}

// Concurrent gets and puts never hand one buffer to two holders. -race.
func TestOneHolderAtATime(t *testing.T) {
	l := List{Max: 4}
	var mu sync.Mutex
	held := map[uintptr]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 2000 {
				b := l.Get()
				if b == nil {
					b = make([]byte, 64)
				}
				mu.Lock()
				if !assert.False(t, held[addr(b)], "a buffer held twice") {
					mu.Unlock()
					return
				}
				held[addr(b)] = true
				mu.Unlock()
				b[0]++
				mu.Lock()
				delete(held, addr(b))
				mu.Unlock()
				l.Put(b)
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, l.Len(), 4)
}
