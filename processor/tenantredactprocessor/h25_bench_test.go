package tenantredactprocessor

import (
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/redact"
	"github.com/tenancyhq/tenancy/internal/redact/redactbench"
)

// BenchmarkRedactAndMarshalDirty is what a dirty record costs from the
// redactor to the bytes the router's otlphttp backend sends: redaction of
// bench-e2e's dirty batch (distinct addresses) and its OTLP marshal,
// thread CPU per record, and the marshaled bytes per record, which the
// audit attributes' shape moves (issue 18).
func BenchmarkRedactAndMarshalDirty(b *testing.B) {
	pol := dirtyPolicy(b, 10)
	r, err := redact.New(pol, redact.Options{})
	if err != nil {
		b.Fatal(err)
	}
	src := dirtyLogs(5, true)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	var fresh []plog.Logs
	var size int
	for b.Loop() {
		if len(fresh) == 0 {
			fresh = freshCopies(b, src)
		}
		ld := fresh[len(fresh)-1]
		fresh = fresh[:len(fresh)-1]
		t0 := redactbench.ThreadCPU()
		r.Logs(ld)
		buf, _ := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
		cpu += redactbench.ThreadCPU() - t0
		size = len(buf)
	}
	n := src.LogRecordCount()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/record")
	b.ReportMetric(float64(size)/float64(n), "B/record")
}
