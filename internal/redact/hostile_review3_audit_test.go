package redact

import (
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// hr3DirtyLogs is n changed records of two attributes, then one changed
// record of wide attributes.
func hr3DirtyLogs(n, wide int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n + 1 {
		lr := lrs.AppendEmpty()
		a := lr.Attributes()
		k := 2
		if i == n {
			k = wide
		}
		for j := range k {
			a.PutStr(fmt.Sprintf("k%d", j), "v")
		}
		lr.Body().SetStr(fmt.Sprintf("call %d from bob@acme.example", i))
	}
	return ld
}

// TestHostileReview3WideRecordAllocatesItsOwnSize: a tenant sets how
// wide a record's attributes are (max_attributes_per_record is its own
// policy's, 0 for no limit, and other receivers do not count them). The
// audit slab a record's attributes are copied into must not be hundreds of
// times that record's array: one changed record of 4,000 attributes after
// 300 changed ones cost 256 x 4,003 KeyValues (41 MB) for a record whose
// array is 160 KB.
func TestHostileReview3WideRecordAllocatesItsOwnSize(t *testing.T) {
	require.True(t, pdTypes.ok)
	r := testRedactor(t)
	const wide = 4000
	ld := hr3DirtyLogs(300, wide)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r.Logs(ld)
	runtime.ReadMemStats(&after)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	_, ok := lrs.At(300).Attributes().Get(AttrClasses)
	require.True(t, ok, "the wide record changed")
	kv := int(unsafe.Sizeof(pdKeyValue{}))
	got := after.TotalAlloc - before.TotalAlloc
	limit := uint64(16 * (wide + 3) * kv)
	require.Less(t, got, limit, "bytes allocated redacting 300 records and one of %d attributes (its array: %d B)", wide, (wide+3)*kv)
}

// TestHostileReview3ReleasedRecordIsNotRetained: once a record of a
// call is gone (exported, dropped), another record of the same call that
// is still queued (another tenant's batch waiting on its backend) must not
// keep the first one's attribute values alive. The audit slabs hold a copy
// of every changed record's attribute array, each KeyValue with its
// strings: a record carved from a slab pins every other record's
// attributes copied into it.
func TestHostileReview3ReleasedRecordIsNotRetained(t *testing.T) {
	require.True(t, pdTypes.ok)
	r := testRedactor(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	freed := make(chan struct{})
	func() {
		big := new([1 << 20]byte)
		for i := range big {
			big[i] = 'x'
		}
		runtime.SetFinalizer(big, func(*[1 << 20]byte) { close(freed) })
		x := lrs.AppendEmpty()
		x.Attributes().PutStr("payload", unsafe.String(&big[0], len(big)))
		x.Body().SetStr("from bob@acme.example")
	}()
	y := lrs.AppendEmpty()
	y.Attributes().PutStr("k", "v")
	y.Body().SetStr("from carol@acme.example")
	r.Logs(ld)
	// y waits in a queue; x and the rest of the batch are gone.
	kept := pcommon.NewMap()
	y.Attributes().MoveTo(kept)
	ld = plog.NewLogs()
	for range 5 {
		runtime.GC()
		select {
		case <-freed:
			require.Equal(t, 2, kept.Len()) // k and the class list
			return
		default:
		}
	}
	runtime.KeepAlive(kept)
	t.Fatal("the released record's 1 MB attribute is still reachable from the kept record")
}

// TestHostileReview3AuditUnderProtoPooling: with pdata's
// pdata.useProtoPooling gate on, pdata puts a value's wrapper back in a
// pool when the value is replaced or its record deleted, and hands it to
// the next value made: the audit attributes' wrappers, cut from slabs,
// then serve other records. Replacing, removing and deleting audit
// attributes and records, making many new values meanwhile, must leave
// every other record as it was, and the batch must marshal and unmarshal
// to what it holds.
func TestHostileReview3AuditUnderProtoPooling(t *testing.T) {
	require.True(t, pdTypes.ok)
	require.NoError(t, featuregate.GlobalRegistry().Set("pdata.useProtoPooling", true))
	defer func() { require.NoError(t, featuregate.GlobalRegistry().Set("pdata.useProtoPooling", false)) }()
	r := testRedactor(t)
	ld := auditLogs(60)
	r.Logs(ld)
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	before := map[string]map[string]any{}
	for _, lr := range lrs.All() {
		before[lr.Body().AsString()] = lr.Attributes().AsRaw()
	}
	churn := func() {
		// New values take the wrappers the pools were given.
		m := pcommon.NewMap()
		for i := range 200 {
			m.PutInt(fmt.Sprint("i", i), int64(-i))
			m.PutStr(fmt.Sprint("s", i), "churn")
			m.PutEmptySlice(fmt.Sprint("l", i)).AppendEmpty().SetStr("churn")
		}
		m.PutStr("i1", "over")
	}
	changed := map[string]bool{}
	for i, lr := range lrs.All() {
		a := lr.Attributes()
		if _, ok := a.Get(AttrClasses); !ok || i%2 == 0 {
			continue
		}
		changed[lr.Body().AsString()] = true
		switch i % 6 {
		case 1:
			a.PutStr(AttrClasses, "replaced") // the list's wrapper to the pool
			a.PutStr("hr3.added", "appended") // past the array's end
		case 3:
			v, _ := a.Get(AttrClasses)
			v.Slice().RemoveIf(func(pcommon.Value) bool { return true })
			for range 4 {
				v.Slice().AppendEmpty().SetStr("appended")
			}
		case 5:
			a.RemoveIf(func(k string, _ pcommon.Value) bool { return k == AttrClasses })
			for j := range 4 {
				a.PutInt(fmt.Sprint("hr3.", j), int64(j))
			}
		}
		churn()
	}
	// Deleted records give back every wrapper they hold.
	third := 0
	lrs.RemoveIf(func(lr plog.LogRecord) bool {
		if _, ok := lr.Attributes().Get(AttrClasses); ok && !changed[lr.Body().AsString()] {
			third++
			return third%3 == 0
		}
		return false
	})
	kept := lrs.Len()
	lrs.RemoveIf(func(lr plog.LogRecord) bool { return changed[lr.Body().AsString()] })
	require.Less(t, lrs.Len(), kept)
	churn()
	for _, lr := range lrs.All() {
		require.Equal(t, before[lr.Body().AsString()], lr.Attributes().AsRaw(), "record %q", lr.Body().AsString())
	}
	var m plog.ProtoMarshaler
	b, err := m.MarshalLogs(ld)
	require.NoError(t, err)
	var u plog.ProtoUnmarshaler
	back, err := u.UnmarshalLogs(b)
	require.NoError(t, err)
	blrs := back.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, lrs.Len(), blrs.Len())
	for i, lr := range blrs.All() {
		require.Equal(t, lrs.At(i).Attributes().AsRaw(), lr.Attributes().AsRaw())
	}
}
