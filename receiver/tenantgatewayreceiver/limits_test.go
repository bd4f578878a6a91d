package tenantgatewayreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/tenancyhq/tenancy/internal/policy"
)

func TestTenantLimiter(t *testing.T) {
	var ls limiters
	l := ls.get("acme", policy.Limits{RecordsPerSecond: 10, MaxConcurrentRequests: 1})
	now := time.Now()
	d, tooLarge := take(l.records.Load(), 10, now)
	assert.Zero(t, d)
	assert.False(t, tooLarge, "a fresh bucket holds one second")
	d, empty := exhausted(l.records.Load(), now)
	assert.True(t, empty)
	assert.InDelta(t, 100*time.Millisecond, d, float64(5*time.Millisecond), "one token comes back in 1/10 s")
	_, tooLarge = take(l.records.Load(), 11, now)
	assert.True(t, tooLarge)

	assert.True(t, l.enter(1))
	assert.False(t, l.enter(1))
	l.leave()
	assert.True(t, l.enter(1))

	// A reload with other limits gives fresh buckets; the same limits keep them.
	assert.Same(t, l, ls.get("acme", policy.Limits{RecordsPerSecond: 10, MaxConcurrentRequests: 1}))
	_, empty = exhausted(l.records.Load(), now)
	assert.True(t, empty)
	ls.get("acme", policy.Limits{RecordsPerSecond: 20})
	_, empty = exhausted(l.records.Load(), now)
	assert.False(t, empty)
	// Unlimited.
	u := ls.get("globex", policy.Limits{})
	_, empty = exhausted(u.records.Load(), now)
	assert.False(t, empty)
	d, tooLarge = take(u.bytes.Load(), 1<<40, now)
	assert.Zero(t, d)
	assert.False(t, tooLarge)
	assert.True(t, u.enter(0))
	assert.Equal(t, 1, retryAfterSeconds(time.Millisecond))
	assert.Equal(t, 3, retryAfterSeconds(2100*time.Millisecond))
}
