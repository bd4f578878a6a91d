package otlpbuf

import (
	"bytes"
	"reflect"
	"runtime/debug"
	"testing"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// pdata writes a request into a caller's buffer only inside its internal
// package: its public MarshalProto allocates the buffer itself. These
// are those internal methods, func(orig *ExportXServiceRequest, buf
// []byte) int, writing the request into the end of buf, as of pdata
// v1.71.0. The fast path is on only when the binary carries that release
// of pdata, its wrappers still begin with the request's pointer, and a
// sample of each signal marshals to exactly the public path's bytes; else
// every request goes through the public MarshalProto, unpooled, and
// TestFastPathOn fails, so an upgrade cannot turn it off unnoticed.

//go:linkname marshalLogsRequest go.opentelemetry.io/collector/pdata/internal.(*ExportLogsServiceRequest).MarshalProto
func marshalLogsRequest(orig unsafe.Pointer, buf []byte) int

//go:linkname marshalMetricsRequest go.opentelemetry.io/collector/pdata/internal.(*ExportMetricsServiceRequest).MarshalProto
func marshalMetricsRequest(orig unsafe.Pointer, buf []byte) int

//go:linkname marshalTracesRequest go.opentelemetry.io/collector/pdata/internal.(*ExportTraceServiceRequest).MarshalProto
func marshalTracesRequest(orig unsafe.Pointer, buf []byte) int

// pdataModule and pdataVersion are the release the methods above were
// read from.
const (
	pdataModule  = "go.opentelemetry.io/collector/pdata"
	pdataVersion = "v1.71.0"
)

type fastPath struct {
	ok                    bool
	logs, metrics, traces func(unsafe.Pointer, []byte) int
}

var fast = fastPathOf(buildPdataVersion())

// fastPathOf is the fast path when pdata is the release read.
func fastPathOf(version string) fastPath {
	if version != pdataVersion ||
		!wrapsRequest(reflect.TypeFor[plog.Logs](), "ExportLogsServiceRequest") ||
		!wrapsRequest(reflect.TypeFor[pmetric.Metrics](), "ExportMetricsServiceRequest") ||
		!wrapsRequest(reflect.TypeFor[ptrace.Traces](), "ExportTraceServiceRequest") {
		return fastPath{}
	}
	f := fastPath{ok: true, logs: marshalLogsRequest, metrics: marshalMetricsRequest, traces: marshalTracesRequest}
	if !f.agrees() {
		return fastPath{}
	}
	return f
}

// buildPdataVersion is the pdata release the binary lists, "" when it
// lists pdata replaced or not at all. A go test binary lists no module;
// it is taken to carry the release go.mod requires, which
// TestGoModRequiresTheLinkedRelease checks. Any other binary that lists
// none (built outside module mode) gets the public path: the self-check
// itself calls the linked methods, so it cannot stand in for the version.
func buildPdataVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if len(info.Deps) == 0 {
		if testing.Testing() {
			return pdataVersion
		}
		return ""
	}
	for _, m := range info.Deps {
		if m.Path == pdataModule && m.Replace == nil {
			return m.Version
		}
	}
	return ""
}

// wrapsRequest reports whether t (plog.Logs and its kin) is pdata's
// wrapper whose first word is a pointer to the internal request type.
func wrapsRequest(t reflect.Type, request string) bool {
	if t.Kind() != reflect.Struct || t.NumField() != 2 || t.Size() != 2*unsafe.Sizeof(uintptr(0)) {
		return false
	}
	f := t.Field(0)
	return f.Name == "orig" && f.Offset == 0 && f.Type.Kind() == reflect.Pointer &&
		f.Type.Elem().Name() == request && f.Type.Elem().PkgPath() == pdataModule+"/internal"
}

// origOf is the request pointer a pdata wrapper begins with.
func origOf[T plog.Logs | pmetric.Metrics | ptrace.Traces](w *T) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(w))
}

// agrees marshals a sample of each signal both ways.
func (f fastPath) agrees() bool {
	ld, md, td := samples()
	same := func(size int, write func([]byte) int, want []byte) bool {
		got := make([]byte, size)
		return len(want) == size && write(got) == size && bytes.Equal(got, want)
	}
	wl, _ := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	wm, _ := (&pmetric.ProtoMarshaler{}).MarshalMetrics(md)
	wt, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	return same((&plog.ProtoMarshaler{}).LogsSize(ld), func(b []byte) int { return f.logs(origOf(&ld), b) }, wl) &&
		same((&pmetric.ProtoMarshaler{}).MetricsSize(md), func(b []byte) int { return f.metrics(origOf(&md), b) }, wm) &&
		same((&ptrace.ProtoMarshaler{}).TracesSize(td), func(b []byte) int { return f.traces(origOf(&td), b) }, wt)
}

// samples are one request of each signal with a resource, a scope and
// attributes of several types.
func samples() (plog.Logs, pmetric.Metrics, ptrace.Traces) {
	attrs := func(m pcommon.Map) {
		m.PutStr("service.name", "checkout")
		m.PutInt("n", 42)
		m.PutDouble("d", 0.5)
		m.PutBool("b", true)
		m.PutEmptySlice("s").AppendEmpty().SetStr("x")
		m.PutEmptyBytes("raw").FromRaw([]byte{1, 2, 3})
	}
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	attrs(rl.Resource().Attributes())
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("scope")
	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(1)
	lr.SetSeverityText("INFO")
	lr.Body().SetStr("payment retry")
	lr.SetTraceID(pcommon.TraceID{1})
	attrs(lr.Attributes())

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	attrs(rm.Resource().Attributes())
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("requests")
	dp := m.SetEmptySum().DataPoints().AppendEmpty()
	dp.SetIntValue(7)
	attrs(dp.Attributes())
	h := rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("latency")
	hp := h.SetEmptyHistogram().DataPoints().AppendEmpty()
	hp.BucketCounts().FromRaw([]uint64{1, 2})
	hp.ExplicitBounds().FromRaw([]float64{0.1})

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	attrs(rs.Resource().Attributes())
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("GET /")
	sp.SetTraceID(pcommon.TraceID{2})
	sp.SetSpanID(pcommon.SpanID{3})
	attrs(sp.Attributes())
	sp.Events().AppendEmpty().SetName("retry")
	return ld, md, td
}
