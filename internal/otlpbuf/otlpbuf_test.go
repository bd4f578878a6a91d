package otlpbuf

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"regexp"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The fast path is what makes the buffers reusable; a pdata upgrade that
// turns it off must fail here rather than quietly allocate again.
func TestFastPathOn(t *testing.T) {
	require.Equal(t, pdataVersion, buildPdataVersion(), "pdata was upgraded: check the linked MarshalProto signatures in fastpath.go, then pdataVersion")
	require.True(t, fast.ok)
}

func TestGoModRequiresTheLinkedRelease(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^\s*`+regexp.QuoteMeta(pdataModule+" "+pdataVersion)+`$`, string(mod),
		"pdata was upgraded: check the linked MarshalProto signatures in fastpath.go, then pdataVersion")
}

func TestFastPathOffForAnotherRelease(t *testing.T) {
	assert.False(t, fastPathOf("v1.72.0").ok)
	assert.False(t, fastPathOf("").ok)
	assert.True(t, fastPathOf(pdataVersion).ok)
}

// tenantLogs is n records that name only tenant.
func tenantLogs(tenant string, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", tenant)
	rs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := rs.AppendEmpty()
		lr.SetTimestamp(pcommon.Timestamp(i))
		lr.Body().SetStr(fmt.Sprintf("%s record %d of %s", tenant, i, tenant))
		lr.Attributes().PutStr("customer", tenant+"-customer")
	}
	return ld
}

func TestMarshalIsPdatas(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Sizes across the free list's classes, and one past its largest.
	for _, n := range []int{0, 1, 7, 40, 300, 2_000, 20_000, 90_000} {
		ld := tenantLogs(fmt.Sprintf("t%d", rng.IntN(1000)), n)
		want, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		require.NoError(t, err)
		b, err := MarshalLogs(ld)
		require.NoError(t, err)
		assert.Equal(t, want, b.Bytes(), "%d records", n)
		assert.Equal(t, len(b.Bytes()), cap(b.Bytes()), "cut to its length")
		b.Drop()
	}
	md := pmetric.NewMetrics()
	for i := range 500 {
		m := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName(fmt.Sprintf("m%d", i))
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(float64(i))
	}
	wantM, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	bm, err := MarshalMetrics(md)
	require.NoError(t, err)
	assert.Equal(t, wantM, bm.Bytes())
	bm.Drop()
	td := ptrace.NewTraces()
	for i := range 500 {
		sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		sp.SetName(fmt.Sprintf("s%d", i))
		sp.Attributes().PutInt("i", int64(i))
	}
	wantT, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	bt, err := MarshalTraces(td)
	require.NoError(t, err)
	assert.Equal(t, wantT, bt.Bytes())
	bt.Drop()
}

// A request under minPooled gets memory of its own size.
func TestSmallRequestsAreNotPooled(t *testing.T) {
	small, err := MarshalLogs(tenantLogs("acme", 10))
	require.NoError(t, err)
	require.Less(t, len(small.Bytes()), minPooled)
	assert.Nil(t, small.mem)
	small.Drop()
	large, err := MarshalLogs(tenantLogs("acme", 1000))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(large.Bytes()), minPooled)
	assert.NotNil(t, large.mem)
	large.Drop()
}

func TestClasses(t *testing.T) {
	require.Equal(t, classes, classOf(maxSize)+1)
	require.Equal(t, maxSize, classSize(classes-1))
	for n := 1; n <= maxSize; n += 1 + n/97 {
		i := classOf(n)
		require.GreaterOrEqual(t, classSize(i), n, "n=%d", n)
		if i > 0 {
			require.Less(t, classSize(i-1), n, "n=%d: a smaller class holds it", n)
			require.LessOrEqual(t, classSize(i)*4, n*5+4, "n=%d: more than a fifth wasted", n)
		}
	}
	require.Equal(t, -1, classOf(maxSize+1))
}

func mem(b *Buf) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b.mem))) }

// Memory goes back to the free list only when its last holder lets go,
// and then it is reused.
func TestReusedOnlyAfterTheLastDrop(t *testing.T) {
	a, err := MarshalLogs(tenantLogs("acme", 1000))
	require.NoError(t, err)
	require.NotNil(t, a.mem, "not in reused memory: the test proves nothing")
	want := bytes.Clone(a.Bytes())
	require.True(t, a.Hold())
	a.Drop() // the queue's reference is still held
	for range 2 * perClass {
		b, err := MarshalLogs(tenantLogs("hool", 1000))
		require.NoError(t, err)
		require.NotEqual(t, mem(a), mem(b), "a held buffer was handed out again")
		defer b.Drop()
	}
	require.Equal(t, want, a.Bytes())
	a.Drop()
	c, err := MarshalLogs(tenantLogs("hool", 1000))
	require.NoError(t, err)
	defer c.Drop()
	assert.Equal(t, mem(a), mem(c), "the released buffer was not reused")
}

func TestNoReferenceAfterZero(t *testing.T) {
	a, err := MarshalLogs(tenantLogs("acme", 10))
	require.NoError(t, err)
	a.Drop()
	assert.False(t, a.Hold())
	_, err = a.Body()
	assert.ErrorIs(t, err, errReleased)
	assert.Panics(t, a.Drop)
	var none *Buf
	assert.False(t, none.Hold())
	none.Drop()
}

// A transport may read a request body after the call that sent it
// returned, and close it later still (net/http's RoundTrip contract): the
// body keeps the memory until closed, and reads nothing after.
func TestBodyHoldsTheMemoryUntilClosed(t *testing.T) {
	a, err := MarshalLogs(tenantLogs("acme", 1000))
	require.NoError(t, err)
	want := bytes.Clone(a.Bytes())
	body, err := a.Body()
	require.NoError(t, err)
	a.Drop() // the queue is done with the batch; the transport is not
	other, err := MarshalLogs(tenantLogs("hool", 1000))
	require.NoError(t, err)
	defer other.Drop()
	require.NotEqual(t, mem(a), mem(other))
	got, err := io.ReadAll(body)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, body.Close())
	require.NoError(t, body.Close())
	n, err := body.Read(make([]byte, 10))
	assert.Zero(t, n)
	assert.ErrorIs(t, err, errReleased)
	c, err := MarshalLogs(tenantLogs("hool", 1000))
	require.NoError(t, err)
	defer c.Drop()
	assert.Equal(t, mem(a), mem(c), "closing the last holder released the memory")
}

// Many tenants' requests marshaled, read late through bodies and released
// at once, the memory recycling under them: every byte any holder reads is
// its own tenant's. Run under -race.
func TestConcurrentTenantsReadOnlyTheirOwn(t *testing.T) {
	const tenants, rounds = 6, 200
	var wg sync.WaitGroup
	for g := range tenants {
		tenant := fmt.Sprintf("tenant%02d", g)
		want, _ := (&plog.ProtoMarshaler{}).MarshalLogs(tenantLogs(tenant, 800))
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range rounds {
				b, err := MarshalLogs(tenantLogs(tenant, 800))
				if !assert.NoError(t, err) || !assert.NotNil(t, b.mem, "not in reused memory") {
					return
				}
				var readers sync.WaitGroup
				for range 1 + rng.IntN(3) {
					body, err := b.Body()
					if !assert.NoError(t, err) {
						return
					}
					readers.Go(func() {
						got, err := io.ReadAll(body)
						assert.NoError(t, err)
						assert.True(t, bytes.Equal(want, got), "%s read another request's bytes", tenant)
						assert.NoError(t, body.Close())
					})
				}
				b.Drop() // before the readers are done
				readers.Wait()
			}
		})
	}
	wg.Wait()
}

func TestFreeListBounded(t *testing.T) {
	f := newFreeList()
	var bufs [][]byte
	for range 3 * perClass {
		bufs = append(bufs, f.get(1<<20), f.get(3<<20))
	}
	for _, b := range bufs {
		f.put(b)
	}
	assert.LessOrEqual(t, f.idle.Load(), int64(maxIdle))
	held := int64(0)
	for i := range f.lists {
		assert.LessOrEqual(t, f.lists[i].Len(), perClass)
		held += int64(f.lists[i].Len() * classSize(i))
	}
	assert.Equal(t, held, f.idle.Load())
	idle := f.idle.Load()
	f.put(make([]byte, 5000)) // not a class's size
	f.put(make([]byte, maxSize+1))
	assert.Equal(t, idle, f.idle.Load())
}

// BenchmarkMarshalLogs is pdata's MarshalProto against a pooled marshal of
// the same 4,096-record batch (about what one of two tenants' share of
// the batch processor's 8,192 records is in bench-e2e), in one run.
func BenchmarkMarshalLogs(b *testing.B) {
	ld := tenantLogs("acme", 4096)
	b.Run("impl=pdata", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=otlpbuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := MarshalLogs(ld)
			if err != nil {
				b.Fatal(err)
			}
			buf.Drop()
		}
	})
}
