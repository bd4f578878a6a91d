package redact

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// The redactor called where no tenant processor stripped a client's
// tenant.redaction.* keys first (the shipped pipelines all have one):
// forged stamps must neither hide a changed record, nor wrap a count, nor
// cost a search per name of a huge list (hostile review of the final
// read).
func forgedBatch(res func(pcommon.Map), rec func(pcommon.Map)) (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, "acme")
	res(rl.Resource().Attributes())
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for range 2 {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr("mail bob@acme.example")
	}
	rec(lrs.At(0).Attributes())
	return ld, lrs
}

func TestForgedClassListOfMapsHidesNoRecord(t *testing.T) {
	for _, forge := range []func(pcommon.Slice){
		func(s pcommon.Slice) { s.AppendEmpty().SetEmptyMap().PutStr("x", "y") },
		func(s pcommon.Slice) { s.AppendEmpty().SetStr("email"); s.AppendEmpty().SetDouble(math.NaN()) },
		func(s pcommon.Slice) {
			for i := range identity.MaxRedactionClasses + 1 {
				s.AppendEmpty().SetStr(fmt.Sprint("c", i))
			}
		},
	} {
		ld, lrs := forgedBatch(func(pcommon.Map) {}, func(m pcommon.Map) { forge(m.PutEmptySlice(AttrClasses)) })
		testRedactor(t).Logs(ld)
		res := ld.ResourceLogs().At(0).Resource().Attributes().AsRaw()
		assert.Equal(t, int64(2), res[AttrRecords], "both records changed")
		assert.Equal(t, []any{"email"}, res[AttrClasses])
		assert.Equal(t, []any{"email"}, lrs.At(0).Attributes().AsRaw()[AttrClasses], "the forged list is replaced")
	}
}

func TestForgedResourceCountsDoNotWrap(t *testing.T) {
	ld, _ := forgedBatch(func(m pcommon.Map) {
		m.PutInt(AttrCount, math.MaxInt64)
		m.PutInt(AttrRecords, math.MaxInt64)
	}, func(pcommon.Map) {})
	testRedactor(t).Logs(ld)
	res := ld.ResourceLogs().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, int64(math.MaxInt64), res[AttrCount])
	assert.Equal(t, int64(math.MaxInt64), res[AttrRecords])

	ld, _ = forgedBatch(func(m pcommon.Map) {
		m.PutInt(AttrCount, -5)
		m.PutInt(AttrRecords, -5)
	}, func(pcommon.Map) {})
	testRedactor(t).Logs(ld)
	res = ld.ResourceLogs().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, int64(2), res[AttrCount], "a negative earlier count adds nothing")
	assert.Equal(t, int64(2), res[AttrRecords])
}

// TestLongEarlierListMergesAsShort: an earlier pass's list long enough to
// be merged through a set gives what the search per name gave.
func TestLongEarlierListMergesAsShort(t *testing.T) {
	old := pcommon.NewSlice()
	for i := range 40 {
		old.AppendEmpty().SetStr(fmt.Sprintf("r%02d", 39-i))
	}
	old.AppendEmpty().SetStr("email")
	got, sorted := mergeClasses([]string{"email", "us_ssn"}, true, old)
	assert.False(t, sorted)
	assert.Len(t, got, 42)
	assert.Equal(t, []string{"email", "us_ssn", "r39"}, got[:3])
}
