package localstore

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// BenchmarkWriteLogsE2E writes what make bench-e2e's local store rows
// hand the store: batches of 4,100 records (batch's 8,192 split between
// the two sending tenants) made of 100-record requests (one resource
// each, with its own lineage), the resource the tenant processor stamps
// on telemetrygen's, and each record's body and attributes as the clean
// and the dirty load leave them (dirty: the masked e-mail, each record's
// class list and the redactor's four attributes on the resource). Rows
// read back average about 310 bytes clean and 535 dirty, of which the
// resource's JSON 113 and 279; the store keeps a distinct resource once,
// so on disk a record takes 236 bytes clean and 297 dirty (383 with the
// count, classes and policy version on every record before issue 18:
// BenchmarkH25aWriteAudit; 301 when each request's resource has its own
// counts, as real requests' would, and so its own resources row).
func BenchmarkWriteLogsE2E(b *testing.B) {
	for _, dirty := range []bool{false, true} {
		b.Run(fmt.Sprintf("dirty=%v", dirty), func(b *testing.B) { writeLogsE2E(b, dirty, 41) })
	}
	// Smaller transactions (dirty): a request of 100 records each, as the
	// quickstart's without a batch processor, and a few requests.
	for _, requests := range []int{1, 3, 10} {
		b.Run(fmt.Sprintf("requests=%d/dirty=true", requests), func(b *testing.B) { writeLogsE2E(b, true, requests) })
	}
}

// writeLogsE2E writes batches of requests of bench-e2e's load (dirty or
// clean; 41 requests make its batches) to a fresh store, one per
// iteration, and reports records per second and per process CPU-second.
func writeLogsE2E(b *testing.B, dirty bool, requests int) {
	ld := e2eLikeLogs(dirty, requests)
	s, _ := openStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for b.Loop() {
		// Times move on from batch to batch, as telemetrygen's do:
		// the time index is appended to, not written in the middle.
		restamp(ld, time.Now())
		if err := s.WriteLogs("tenant-0000", ld, "v1"); err != nil {
			b.Fatal(err)
		}
	}
	cpu = processCPU() - cpu
	n := ld.LogRecordCount()
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N*n)/cpu.Seconds(), "records/cpu-s")
}

// restamp gives the batch's records times a microsecond apart, the last
// a microsecond before now, and its requests new lineage ids, after the
// last batch's as the tenant processor's (time first) are. The records
// are older than their ingestion, as a client's are when they reach the
// store: records from after it go to the time index for the future
// (log_rows_ahead) as well, which costs every row.
func restamp(ld plog.Logs, now time.Time) {
	ts := pcommon.NewTimestampFromTime(now) - pcommon.Timestamp(1000*ld.LogRecordCount())
	for r, rl := range ld.ResourceLogs().All() {
		rl.Resource().Attributes().PutStr(identity.AttrLineage, e2eLineage(r, now))
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				lr.SetTimestamp(ts)
				ts += 1000
			}
		}
	}
}

// e2eLineage is request r's lineage in a batch made at now.
func e2eLineage(r int, now time.Time) string {
	return identity.Lineage{ID: fmt.Sprintf("%016x%016x", now.UnixNano(), r), Accepted: now.UnixNano(),
		Tenant: "tenant-0000", Auth: "api_key", Credential: "key:0123456789ab", Client: "127.0.0.1:5555", Collector: "collector-7", PolicyVersion: "pv1"}.Encode()
}

// e2eLikeLogs is a batch of bench-e2e's load: requests of 100 records.
func e2eLikeLogs(dirty bool, requests int) plog.Logs {
	ld := plog.NewLogs()
	now := time.Now()
	for r := range requests {
		rl := ld.ResourceLogs().AppendEmpty()
		ra := rl.Resource().Attributes()
		ra.PutStr("service.name", "telemetrygen")
		ra.PutStr(identity.AttrTenantID, "tenant-0000")
		ra.PutStr(identity.AttrFingerprint, "9f86d081884c7d659a2feaa0c55ad015")
		ra.PutStr(identity.AttrLineage, e2eLineage(r, now))
		sl := rl.ScopeLogs().AppendEmpty()
		for i := range 100 {
			lr := sl.LogRecords().AppendEmpty()
			lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(r*100+i) * time.Microsecond)))
			lr.SetSeverityNumber(plog.SeverityNumberInfo)
			lr.SetSeverityText("Info")
			lr.Attributes().PutStr("app", "server")
			if !dirty {
				lr.Body().SetStr("payment retry for a customer of shop.example.org, order 4411 failed at checkout")
				lr.Attributes().PutStr("customer.ref", "ref-4411-0000000000000")
				continue
			}
			lr.Body().SetStr("payment retry for a customer of [REDACTED:tenant_domain], order 4411 failed at checkout")
			lr.Attributes().PutStr("customer.email", "[REDACTED:email]")
			redacted(lr, "email", "tenant_domain")
		}
		if dirty {
			// Two values in each of the 100 records; the policy's version is
			// 16 hex digits.
			ra.PutInt(identity.AttrRedactionCount, 200)
			ra.PutInt(identity.AttrRedactionRecords, 100)
			putClasses(ra, []string{"email", "tenant_domain"})
			ra.PutStr(identity.AttrRedactionPolicyVersion, "3a7bd3e2360a3d29")
		}
	}
	return ld
}
