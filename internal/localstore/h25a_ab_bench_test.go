package localstore

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// perRecordAudit turns a dirty batch into the redactor's audit before
// issue 18: count, classes and policy version on every changed record,
// nothing on the resource.
func perRecordAudit(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		ra := rl.Resource().Attributes()
		for _, k := range []string{identity.AttrRedactionCount, identity.AttrRedactionRecords, identity.AttrRedactionClasses, identity.AttrRedactionPolicyVersion} {
			ra.Remove(k)
		}
		for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
			a := lr.Attributes()
			a.Remove(identity.AttrRedactionClasses)
			a.PutInt(identity.AttrRedactionCount, 2)
			putClasses(a, []string{"email", "tenant_domain"})
			a.PutStr(identity.AttrRedactionPolicyVersion, "3a7bd3e2360a3d29")
		}
	}
}

// BenchmarkH25aWriteAudit writes BenchmarkWriteLogsE2E's dirty batch
// with the redactor's audit as it is (audit=resource: classes per record,
// the four on the resource) and as it was before issue 18 (audit=record).
// The tenant's files after ten such batches: 383 bytes a record before,
// 297 after (236 clean): the store keeps each resource once, so moving
// two attributes off every record is what shows.
func BenchmarkH25aWriteAudit(b *testing.B) {
	for _, audit := range []string{"record", "resource"} {
		b.Run("audit="+audit, func(b *testing.B) {
			ld := e2eLikeLogs(true, 41)
			if audit == "record" {
				perRecordAudit(ld)
			}
			s, _ := openStore(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				restamp(ld, time.Now())
				if err := s.WriteLogs("tenant-0000", ld, "v1"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*ld.LogRecordCount())/b.Elapsed().Seconds(), "records/s")
		})
	}
}
