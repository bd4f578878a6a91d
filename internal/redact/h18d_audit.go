package redact

import (
	"reflect"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Writing a changed record's class list through pdata's API costs heap
// objects per changed record (the attribute array grown by one, the
// list's two wrappers and its array, a box per class name): when the
// record carried three audit attributes, on a load where every record
// changes, they were 20 % of the collector's allocated bytes and most of
// flush's time (docs/benchmarks.md). pdata has no call that
// places values in memory the caller provides, so auditArena writes them
// into the pdata structures itself, carving each record's pieces out of
// slabs shared by the records of one Logs/Metrics/Traces call: a few
// allocations per hundreds of changed records instead of eight per record.
//
// It relies on pdata's internal layout (v1.71.0). The mirror types below
// are compared with pdata's own, field by field (names, offsets, sizes,
// kinds), when the package loads; if any differs (a pdata upgrade), the
// fast path is off and flush writes through the public API as before.
// TestAuditFastPathOn fails then, so an upgrade cannot slow this down
// unnoticed.
//
// What a record gets is its own: no piece is shared with another record,
// so a later processor may change one record's audit attributes (SetStr on
// a class, PutStr of a fourth attribute, which reallocates: each record's
// array is cut to its exact capacity) without touching another's. A slab
// lives as long as any record carved from it: while another record of the
// same call is still queued, at most slabRecords records' audit attributes
// (about 40 KB) and attribute arrays, each of at most slabAttrs small
// attributes (slabbed: about 400 KB in all), outlive the records that held
// them.

// Mirrors of pdata's internal types (internal.KeyValue, AnyValue,
// AnyValue_StringValue, AnyValue_IntValue, AnyValue_ArrayValue,
// ArrayValue) and of the pcommon wrappers (internal.MapWrapper,
// ValueWrapper). Field names match pdata's: the layout check compares them.
type pdKeyValue struct {
	Value       pdAnyValue
	Key         string
	KeyStrindex int32
}

type pdAnyValue struct{ Value any }

type pdStringValue struct{ StringValue string }

type pdIntValue struct{ IntValue int64 }

type pdDoubleValue struct{ DoubleValue float64 }

type pdBoolValue struct{ BoolValue bool }

type pdArrayWrapper struct{ ArrayValue *pdArrayValue }

type pdArrayValue struct{ Values []pdAnyValue }

type pdMap struct {
	orig  *[]pdKeyValue
	state unsafe.Pointer
}

type pdValue struct {
	orig  *pdAnyValue
	state unsafe.Pointer
}

// eface is the layout of an empty interface value.
type eface struct{ typ, data unsafe.Pointer }

// pdTypes holds the type words of the string, int and array values'
// wrappers, and ok when every mirror matches pdata.
var pdTypes = pdataLayout()

type pdLayout struct {
	ok                bool
	str, integer, arr unsafe.Pointer
	// double and boolean are the type words of the values that, like an
	// integer, hold nothing beyond their wrapper (nil if they differ:
	// such values then make a record's array its own, see slabbed).
	double, boolean unsafe.Pointer
}

func pdataLayout() pdLayout {
	if !sameLayout(reflect.TypeFor[pcommon.Map](), reflect.TypeFor[pdMap](), 0) ||
		!sameLayout(reflect.TypeFor[pcommon.Value](), reflect.TypeFor[pdValue](), 0) {
		return pdLayout{}
	}
	wrapper := func(v pcommon.Value, mirror reflect.Type) unsafe.Pointer {
		inner := (*pdValue)(unsafe.Pointer(&v)).orig.Value
		if inner == nil || !sameLayout(reflect.TypeOf(inner), mirror, 0) {
			return nil
		}
		return (*eface)(unsafe.Pointer(&inner)).typ
	}
	l := pdLayout{
		str:     wrapper(pcommon.NewValueStr(""), reflect.TypeFor[*pdStringValue]()),
		integer: wrapper(pcommon.NewValueInt(0), reflect.TypeFor[*pdIntValue]()),
		arr:     wrapper(pcommon.NewValueSlice(), reflect.TypeFor[*pdArrayWrapper]()),
		double:  wrapper(pcommon.NewValueDouble(0), reflect.TypeFor[*pdDoubleValue]()),
		boolean: wrapper(pcommon.NewValueBool(false), reflect.TypeFor[*pdBoolValue]()),
	}
	l.ok = l.str != nil && l.integer != nil && l.arr != nil
	return l
}

// sameLayout reports whether a (pdata's) and b (a mirror) have one memory
// layout: kinds, sizes and, for structs, field names, offsets and types,
// recursively. An unsafe.Pointer in the mirror stands for any pointer.
func sameLayout(a, b reflect.Type, depth int) bool {
	if depth > 8 || a.Size() != b.Size() || a.Align() != b.Align() {
		return false
	}
	if a.Kind() == reflect.Pointer && b.Kind() == reflect.UnsafePointer {
		return true
	}
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Slice:
		return sameLayout(a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		if a.NumField() != b.NumField() {
			return false
		}
		for i := range a.NumField() {
			fa, fb := a.Field(i), b.Field(i)
			if fa.Name != fb.Name || fa.Offset != fb.Offset || !sameLayout(fa.Type, fb.Type, depth+1) {
				return false
			}
		}
		return true
	case reflect.Interface:
		return a.NumMethod() == 0 && b.NumMethod() == 0
	case reflect.String, reflect.Int64, reflect.Int32, reflect.Float64, reflect.Bool:
		return true
	}
	return false
}

// boxed is an interface value of pdata's wrapper type typ holding p.
func boxed(typ, p unsafe.Pointer) (v any) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}

// slabRecords bounds how many records' audit attributes one slab holds.
const slabRecords = 256

// A record's attribute array (its attributes and the three) is cut from a
// slab shared with other records only when it has at most slabAttrs
// attributes whose keys and string values hold at most slabBytes bytes,
// and no other values but integers, doubles and booleans; any other
// record's array is allocated for it alone. The slab holds a copy of each
// array cut from it, with the strings its values point to, for as long as
// any record cut from it lives: a record still queued (another tenant's
// batch waiting on its backend) would otherwise keep alive every other
// changed record's attributes of its call, however large, after those
// records were exported; and a slab is slabRecords arrays of the record
// that fills it, so one record of 4,000 attributes (a tenant's own
// max_attributes_per_record, or none) cost 41 MB
// (TestHostileReview3ReleasedRecordIsNotRetained,
// TestHostileReview3WideRecordAllocatesItsOwnSize).
const (
	slabAttrs = 32
	slabBytes = 512
)

// slabbed reports whether the array of a record whose attributes are old
// may be cut from a shared slab.
func slabbed(old []pdKeyValue) bool {
	if len(old) > slabAttrs {
		return false
	}
	n := 0
	for i := range old {
		n += len(old[i].Key)
		v := old[i].Value.Value
		switch e := (*eface)(unsafe.Pointer(&v)); e.typ {
		case nil, pdTypes.integer, pdTypes.double, pdTypes.boolean:
		case pdTypes.str:
			n += len((*pdStringValue)(e.data).StringValue)
		default:
			return false
		}
	}
	return n <= slabBytes
}

// auditArena holds the free parts of the current slabs of one pass.
type auditArena struct {
	kvs    slab[pdKeyValue]
	vals   slab[pdAnyValue]
	strs   slab[pdStringValue]
	arrs   slab[pdArrayWrapper]
	arrays slab[pdArrayValue]
	// ones and twos hold the pieces of a list of one or two classes (an
	// e-mail address; an address and another tenant's name, bench-e2e's
	// dirty record), cut together.
	ones slab[auditList1]
	twos slab[auditList2]
	// n counts the records written: slabs grow with it, so a call that
	// changes one record allocates little.
	n int
	// left is how many records (and resources) of the call flush has not
	// reached: no slab is cut for more records than are left, so a small
	// batch whose records all change wastes no slab's tail.
	left int
}

// slab is a slab and how much of it is cut. Cutting moves an offset
// rather than the slice: a pointer written into the arena on every take,
// with the garbage collector's write barrier on for much of a small
// heap's run (BenchmarkLogRedactionDirty).
type slab[T any] struct {
	buf []T
	off int
}

// take cuts n elements off the slab, at their exact capacity, starting a
// slab of chunk elements (or n) when it is short.
func (s *slab[T]) take(n, chunk int) []T {
	if len(s.buf)-s.off < n {
		s.buf, s.off = make([]T, max(n, chunk)), 0
	}
	r := s.buf[s.off : s.off+n : s.off+n]
	s.off += n
	return r
}

// write stamps classes on attrs, which holds no class list yet, as
// PutEmptySlice with a string per class would. It reports false, writing
// nothing, when the fast path is off.
func (a *auditArena) write(attrs pcommon.Map, classes []string) bool {
	if !pdTypes.ok {
		return false
	}
	// Panics on read-only data, as the Put calls would.
	attrs.EnsureCapacity(0)
	orig := (*pdMap)(unsafe.Pointer(&attrs)).orig
	recs := max(min(max(a.n, 8), slabRecords, a.left+1), 1)
	a.n++
	old := *orig
	var kv []pdKeyValue
	if slabbed(old) {
		kv = a.kvs.take(len(old)+1, recs*(len(old)+1))
	} else {
		kv = make([]pdKeyValue, len(old)+1)
	}
	copy(kv, old)

	// A short list's pieces in one cut instead of four, side by side and
	// the record's own as before.
	var w *pdArrayWrapper
	switch len(classes) {
	case 1:
		l := &a.ones.take(1, recs)[0]
		w = &l.w
		fillList(&l.arr, w, l.vals[:], l.strs[:], classes)
	case 2:
		l := &a.twos.take(1, recs)[0]
		w = &l.w
		fillList(&l.arr, w, l.vals[:], l.strs[:], classes)
	default:
		strs := a.strs.take(len(classes), recs*len(classes))
		vals := a.vals.take(len(classes), recs*len(classes))
		arr := &a.arrays.take(1, recs)[0]
		w = &a.arrs.take(1, recs)[0]
		fillList(arr, w, vals, strs, classes)
	}
	kv[len(old)] = pdKeyValue{Key: AttrClasses, Value: pdAnyValue{boxed(pdTypes.arr, unsafe.Pointer(w))}}
	*orig = kv
	return true
}

// fillList writes classes into the string values strs, boxed in vals,
// the array arr of vals and its wrapper w.
func fillList(arr *pdArrayValue, w *pdArrayWrapper, vals []pdAnyValue, strs []pdStringValue, classes []string) {
	for j, c := range classes {
		strs[j].StringValue = c
		vals[j].Value = boxed(pdTypes.str, unsafe.Pointer(&strs[j]))
	}
	arr.Values = vals
	w.ArrayValue = arr
}

// auditList1 and auditList2 are the pieces of a class list of one and of
// two classes: the values (the array's elements), their strings, the
// array and its wrapper.
type auditList1 struct {
	vals [1]pdAnyValue
	strs [1]pdStringValue
	arr  pdArrayValue
	w    pdArrayWrapper
}

type auditList2 struct {
	vals [2]pdAnyValue
	strs [2]pdStringValue
	arr  pdArrayValue
	w    pdArrayWrapper
}

// textChunk is the size of the chunks log bodies' replaced strings are cut
// from, and maxCarved the longest string cut from one.
const (
	textChunk = 4096
	maxCarved = 512
)

// textArena hands out the bytes of log bodies' replaced strings from
// chunks, so a changed body costs no allocation of its own. Only bodies:
// a string some component keeps (a resource's service name, a metric's
// name or a point's attribute, as keys of its state) would hold its whole
// chunk; a body is stored or sent and dropped with its record. A chunk
// lives while any body cut from it does: at most 4 KB beside a body that
// outlives its batch.
type textArena struct{ free []byte }

// build returns the bytes for a string of size bytes, empty with that
// capacity, from the current chunk or a new one; left is how many more
// records the call holds.
func (t *textArena) build(size, left int) []byte {
	if size > maxCarved {
		return make([]byte, 0, size)
	}
	if cap(t.free)-len(t.free) < size {
		// Room for as many more bodies of this size as records are left.
		t.free = make([]byte, 0, max(min(textChunk, size*left), size))
	}
	n := len(t.free)
	t.free = t.free[:n+size]
	return t.free[n : n : n+size]
}

// str is b as a string; b is not written again.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
