package tenantgatewayreceiver

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// unknownTenant holds the limiter state shared by identities that are not
// in the policy (a trusted proxy's header may name any valid id), so the
// state stays bounded by the policy's size.
const unknownTenant = "_unknown"

// tenantLimiter is one tenant's edge state. Tenants never share one, and
// the hot path takes no lock shared between tenants: a sync.Map read, then
// the tenant's own limiters.
type tenantLimiter struct {
	records  atomic.Pointer[rate.Limiter]
	bytes    atomic.Pointer[rate.Limiter]
	inflight atomic.Int64

	// limits is what the limiters were made from; a policy reload that
	// changes them gives the tenant fresh buckets on its next request.
	mu     sync.Mutex
	limits atomic.Pointer[policy.Limits]
}

func newTenantLimiter(l policy.Limits) *tenantLimiter {
	t := &tenantLimiter{}
	t.apply(l)
	return t
}

// apply makes the limiters from l unless they already are.
func (t *tenantLimiter) apply(l policy.Limits) {
	if cur := t.limits.Load(); cur != nil && *cur == l {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.limits.Load(); cur != nil && *cur == l {
		return
	}
	t.records.Store(newBucket(l.RecordsPerSecond))
	t.bytes.Store(newBucket(l.BytesPerSecond))
	t.limits.Store(&l)
}

// newBucket is a full token bucket of perSecond tokens a second holding at
// most one second of them (0 = unlimited).
func newBucket(perSecond int64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(perSecond), int(min(perSecond, math.MaxInt32)))
}

// enter takes one of the tenant's concurrent request slots.
func (t *tenantLimiter) enter(maxConcurrent int64) bool {
	n := t.inflight.Add(1)
	if maxConcurrent > 0 && n > maxConcurrent {
		t.inflight.Add(-1)
		return false
	}
	return true
}

func (t *tenantLimiter) leave() { t.inflight.Add(-1) }

// exhausted reports whether lim has no whole token now, and when it will,
// so a flooding tenant's request is refused before its body is read or
// decoded.
func exhausted(lim *rate.Limiter, now time.Time) (time.Duration, bool) {
	if lim.Limit() == rate.Inf {
		return 0, false
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - tokens) / float64(lim.Limit()) * float64(time.Second)), true
}

// take removes n tokens from lim. It returns how long to wait when there
// are not enough (the request is refused, not delayed), and tooLarge when n
// exceeds what the bucket can ever hold.
func take(lim *rate.Limiter, n int, now time.Time) (retryAfter time.Duration, tooLarge bool) {
	if lim.Limit() == rate.Inf || n == 0 {
		return 0, false
	}
	if n > lim.Burst() {
		return 0, true
	}
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return 0, true
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, false
	}
	return 0, false
}

// limiters holds every tenant's limiter.
type limiters struct{ m sync.Map } // tenant id -> *tenantLimiter

func (ls *limiters) get(id string, l policy.Limits) *tenantLimiter {
	if v, ok := ls.m.Load(id); ok {
		t := v.(*tenantLimiter)
		t.apply(l)
		return t
	}
	v, _ := ls.m.LoadOrStore(id, newTenantLimiter(l))
	t := v.(*tenantLimiter)
	t.apply(l)
	return t
}
