package identity

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Reasons for tenant.quarantine.reason that more than one component gives.
const (
	ReasonMalformed = "malformed"  // tenant.id repeated or not a string
	ReasonNoTenant  = "no_tenant"  // no tenant.id: a pipeline without the tenant processor
	ReasonUnknown   = "unknown"    // a valid id the policy in force does not declare
	ReasonSuspended = "suspended"  // a declared tenant whose data may not flow
	ReasonInvalid   = "invalid_id" // not a tenant id, or a reserved one
)

// TenantOf reads the tenant the pipeline stamped on a resource: its one
// tenant.id, a string. Every component reads the tenant through here, so
// they all agree on it. OTLP's wire format lets a key repeat and pcommon
// keeps every copy; a repeated key, like a missing or non-string one, is no
// tenant, and reason says which.
func TenantOf(attrs pcommon.Map) (id, reason string) {
	found := false
	for k, v := range attrs.All() {
		if k != AttrTenantID {
			continue
		}
		if found || v.Type() != pcommon.ValueTypeStr {
			return "", ReasonMalformed
		}
		found, id = true, v.Str()
	}
	if !found {
		return "", ReasonNoTenant
	}
	return id, ""
}

// Partition is where a resource's data may go under pol: its tenant when
// declared and active, a pipeline tenant (_quarantine, _governance) as it
// is; anything else is "" with the reason it belongs to no one.
func Partition(pol *policy.Policy, attrs pcommon.Map) (id, reason string) {
	id, reason = TenantOf(attrs)
	if reason != "" {
		return "", reason
	}
	if id == policy.Quarantine || id == policy.Governance {
		return id, ""
	}
	if policy.ValidateTenantID(id) != nil || policy.IsReserved(id) {
		return "", ReasonInvalid
	}
	t, known := pol.Tenant(id)
	switch {
	case !known:
		return "", ReasonUnknown
	case !t.Active():
		return "", ReasonSuspended
	}
	return id, ""
}

// Quarantine rewrites a resource that belongs to no tenant into the
// quarantine: every tenant.id it had becomes tenant.claimed (joined by ","
// and truncated to MaxClaimed), tenant.id becomes _quarantine, and reason is
// kept unless the resource already carries one.
func Quarantine(attrs pcommon.Map, reason string) {
	var claims []string
	attrs.RemoveIf(func(k string, v pcommon.Value) bool {
		if k != AttrTenantID {
			return false
		}
		claims = append(claims, v.AsString())
		return true
	})
	attrs.PutStr(AttrTenantID, policy.Quarantine)
	if _, ok := attrs.Get(AttrQuarantineReason); !ok {
		attrs.PutStr(AttrQuarantineReason, reason)
	}
	if len(claims) > 0 {
		if _, ok := attrs.Get(AttrClaimed); !ok {
			attrs.PutStr(AttrClaimed, Truncate(strings.Join(claims, ","), MaxClaimed))
		}
	}
}

// MaxClaimed bounds what a client can make the pipeline store in
// tenant.claimed.
const MaxClaimed = 256

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// StripClientKeys removes every tenant.* key from m and from the maps
// nested in its values, at any depth: below the resource, only the pipeline
// writes that namespace. It returns how many keys it removed.
func StripClientKeys(m pcommon.Map) int {
	// Nearly every map holds nothing to strip: one read of its keys
	// decides, since RemoveIf's callback per attribute and rewrite of the
	// map were half of what the tenant processor spent on a request of
	// 100 records (BenchmarkH18oRequest).
	if !mayHoldClientKeys(m) {
		return 0
	}
	n := 0
	m.RemoveIf(func(k string, v pcommon.Value) bool {
		if strings.HasPrefix(k, AttrPrefix) {
			n++
			return true
		}
		n += StripValue(v)
		return false
	})
	return n
}

// mayHoldClientKeys reports whether m has a tenant.* key or a value that
// nests maps (a map or a slice).
func mayHoldClientKeys(m pcommon.Map) bool {
	for k, v := range m.All() {
		if strings.HasPrefix(k, AttrPrefix) {
			return true
		}
		switch v.Type() {
		case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
			return true
		}
	}
	return false
}

// StripValue is StripClientKeys for the maps nested in v.
func StripValue(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return StripClientKeys(v.Map())
	case pcommon.ValueTypeSlice:
		n := 0
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			n += StripValue(s.At(i))
		}
		return n
	}
	return 0
}

// RedactionClasses is the class list the redactor stamped on a record (or
// a resource), when attrs holds one: a non-empty list of at most
// MaxRedactionClasses strings under AttrRedactionClasses. Anything else
// under the key is no redactor's (where no tenant processor stripped a
// client's copy first), and the record counts as unchanged: a forged list
// of maps, or of a hundred thousand names, must neither pass for an
// earlier pass's nor be merged name by name. The one reader of that stamp
// for the redactor's second pass, the anomaly connector and the store's
// lineage.
func RedactionClasses(attrs pcommon.Map) (pcommon.Slice, bool) {
	v, ok := attrs.Get(AttrRedactionClasses)
	if !ok || v.Type() != pcommon.ValueTypeSlice {
		return pcommon.Slice{}, false
	}
	s := v.Slice()
	if s.Len() == 0 || s.Len() > MaxRedactionClasses {
		return pcommon.Slice{}, false
	}
	for _, e := range s.All() {
		if e.Type() != pcommon.ValueTypeStr {
			return pcommon.Slice{}, false
		}
	}
	return s, true
}

// MaxRedactionClasses bounds a class list the redactor writes: its
// built-in classes (fewer than 32) and the rules of a tenant's block and
// of the defaults (at most 128 each, policy.MaxRulesPerBlock), with room.
const MaxRedactionClasses = 512
