package localstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// h26hRows is how many records each operation of BenchmarkH26hResourceSize
// writes, verifies or expires under one resource.
const h26hRows = 2000

// h26hLogs is h26hRows records at ts under one resource whose JSON is
// about size bytes.
func h26hLogs(size int, ts time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "acme")
	rl.Resource().Attributes().PutStr("big", strings.Repeat("x", size))
	sl := rl.ScopeLogs().AppendEmpty()
	for i := range h26hRows {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.Body().SetStr(fmt.Sprint("record ", i))
		lr.Attributes().PutStr("order.id", fmt.Sprint(i))
	}
	return ld
}

// BenchmarkH26hResourceSize: what a row costs the audit chain's row
// hashes as its resource grows. Each operation writes (one batch),
// verifies (audit verify of a store of one batch) or expires (retention
// of one batch) h26hRows records under one resource of 10 bytes or
// 1 MiB. With the rows hashing the resource's JSON (row hash 1) the
// 1 MiB resource costs about 0.7 ms per row in each; with its digest
// (row hash 2) the rows cost what they cost under a small one, the
// resource's size being paid once per batch (its JSON built, its
// digest) or once per verify (its digest checked).
func BenchmarkH26hResourceSize(b *testing.B) {
	for _, size := range []int{10, 1 << 20} {
		name := fmt.Sprintf("res=%dB", size)
		b.Run("write/"+name, func(b *testing.B) {
			s, _ := openStore(b)
			ld := h26hLogs(size, time.Now())
			cpu := processCPU()
			for b.Loop() {
				if err := s.WriteLogs("acme", ld, "v1"); err != nil {
					b.Fatal(err)
				}
			}
			h26hReport(b, processCPU()-cpu)
		})
		b.Run("verify/"+name, func(b *testing.B) {
			s, _ := openStore(b)
			if err := s.WriteLogs("acme", h26hLogs(size, time.Now()), "v1"); err != nil {
				b.Fatal(err)
			}
			cpu := processCPU()
			for b.Loop() {
				if _, err := s.VerifyAudit("acme"); err != nil {
					b.Fatal(err)
				}
			}
			h26hReport(b, processCPU()-cpu)
		})
		b.Run("expire/"+name, func(b *testing.B) {
			s, _ := openStore(b)
			ld := h26hLogs(size, time.Now().Add(-48*time.Hour))
			keep := map[policy.Signal]time.Duration{policy.SignalLogs: 24 * time.Hour}
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := s.WriteLogs("acme", ld, "v1"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				c := processCPU()
				if d, err := s.ApplyRetention("acme", keep, time.Now(), "v1"); err != nil || d[policy.SignalLogs] != h26hRows {
					b.Fatal(d, err)
				}
				cpu += processCPU() - c
			}
			h26hReport(b, cpu)
		})
	}
}

// h26hReport reports rows per second of wall time and of the process's
// CPU time (cpu, spent in the timed operations): the latter far less
// disturbed by other jobs on a shared machine.
func h26hReport(b *testing.B, cpu time.Duration) {
	rows := float64(b.N * h26hRows)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(rows/cpu.Seconds(), "rows/cpu-s")
}
