package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// TestAuditClassesPerRecordCountsPerResource pins the audit trail's shape:
// a changed record carries only its class list; its resource carries the
// values changed in all of it, the records changed, the union of classes
// and the policy version; a clean record and a clean resource carry
// nothing; a second pass adds to all of it without counting a record
// twice, on the fast path and through pdata's API alike.
func TestAuditClassesPerRecordCountsPerResource(t *testing.T) {
	for _, fast := range []bool{true, false} {
		r := testRedactor(t)
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
		rl.Resource().Attributes().PutStr("host.name", "globex.example") // the resource's own change
		lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
		lrs.AppendEmpty().Body().SetStr("mail bob@acme.example about globex.example") // email + foreign
		lrs.AppendEmpty().Body().SetStr("nothing here")
		lrs.AppendEmpty().Attributes().PutStr("ssn", "123-45-6789")
		clean := ld.ResourceLogs().AppendEmpty()
		clean.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
		clean.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("all fine")

		run := func() {
			if fast {
				r.Logs(ld)
			} else {
				slowPath(t, func() { r.Logs(ld) })
			}
		}
		run()
		keys := func(m pcommon.Map) []string {
			var ks []string
			for k := range m.All() {
				if identity.PipelineKey(k) && k != identity.AttrTenantID {
					ks = append(ks, k)
				}
			}
			return ks
		}
		rec := func(i int) map[string]any { return lrs.At(i).Attributes().AsRaw() }
		assert.Equal(t, []string{AttrClasses}, keys(lrs.At(0).Attributes()))
		assert.Equal(t, []any{"email", "foreign_tenant"}, rec(0)[AttrClasses])
		assert.Empty(t, keys(lrs.At(1).Attributes()), "a clean record carries nothing")
		assert.Equal(t, []any{"us_ssn"}, rec(2)[AttrClasses])
		assert.Empty(t, keys(clean.Resource().Attributes()), "a clean resource carries nothing")
		assert.Empty(t, keys(clean.ScopeLogs().At(0).LogRecords().At(0).Attributes()))

		res := rl.Resource().Attributes().AsRaw()
		assert.Equal(t, int64(4), res[AttrCount], "host.name, the address, the foreign domain, the SSN")
		assert.Equal(t, int64(2), res[AttrRecords])
		assert.Equal(t, []any{"email", "foreign_tenant", "us_ssn"}, res[AttrClasses])
		assert.Equal(t, r.PolicyVersion(), res[AttrPolicyVersion])

		// A second collector, under another policy version: one more
		// value in a record already changed, one in a record not yet.
		p := testPolicy(t)
		p.Version = "second-version"
		r2, err := New(p, testOptions())
		require.NoError(t, err)
		r = r2
		lrs.At(0).Attributes().PutStr("note", "ak_globex_1")
		lrs.At(1).Body().SetStr("now naming globex.example")
		run()
		assert.Equal(t, []any{"email", "foreign_tenant"}, rec(0)[AttrClasses], "classes are not repeated")
		assert.Equal(t, []any{"foreign_tenant"}, rec(1)[AttrClasses])
		res = rl.Resource().Attributes().AsRaw()
		assert.Equal(t, int64(6), res[AttrCount])
		assert.Equal(t, int64(3), res[AttrRecords], "record 0 changed in both passes and counts once")
		assert.Equal(t, []any{"email", "foreign_tenant", "us_ssn"}, res[AttrClasses])
		assert.Equal(t, "second-version", res[AttrPolicyVersion])
		assert.Empty(t, keys(clean.Resource().Attributes()))
	}
}

// TestAuditResourceOnlyChange: a resource whose own attributes changed and
// none of its records is stamped with no records changed.
func TestAuditResourceOnlyChange(t *testing.T) {
	r := testRedactor(t)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	rl.ScopeLogs().AppendEmpty().Scope().SetName("globex-lib")
	rl.ScopeLogs().At(0).LogRecords().AppendEmpty().Body().SetStr("fine")
	r.Logs(ld)
	res := rl.Resource().Attributes().AsRaw()
	assert.Equal(t, int64(1), res[AttrCount])
	assert.Equal(t, int64(0), res[AttrRecords])
	assert.Equal(t, []any{"foreign_tenant"}, res[AttrClasses])
	assert.Equal(t, 0, rl.ScopeLogs().At(0).LogRecords().At(0).Attributes().Len())
}
