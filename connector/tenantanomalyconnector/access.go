package tenantanomalyconnector

import (
	"github.com/tenancyhq/tenancy/internal/access"
)

// Access-pattern features. They are rules, not detectors: a detector costs
// ~1 KiB per series, and 10,000 tenants' 19 signal features already take
// 198.5 of the 200 MiB budget. A never-seen client address and a spoof
// attempt are anomalies whatever their history (expected 0); an
// authentication-failure burst is judged against the tenant's learnt rate.
const (
	featAccessAuthFailures = "access.auth_failures"
	featAccessSpoofs       = "access.spoofs"
	featAccessNewAddresses = "access.new_addresses"
)

// authFailureAlpha is the weight of one interval in the learnt rate of
// authentication failures: about the last 20 intervals count.
const authFailureAlpha = 0.05

// accessState is one tenant's access-pattern state: 48 bytes, kept in
// tenantSeries beside its detectors.
type accessState struct {
	// last is the cumulative counts read at the previous close, for the
	// interval's differences.
	lastFailures, lastSpoofs, lastNew uint64
	// spoofs are the open interval's resources the tenant processor
	// quarantined as spoofed whose verified sender is this tenant (a spoof
	// the edge could not see: a key of this tenant, a resource naming
	// another); guarded by tenantSeries.mu.
	spoofs uint64
	// failureRate is the learnt rate of authentication failures claiming
	// the tenant per interval (an exponentially weighted mean).
	failureRate float64
	read        bool // last* hold a read
}

// countSpoof counts a spoofed resource of the tenant's; the caller holds
// tenantSeries.mu.
func (a *accessState) countSpoof(spoof bool) {
	if spoof {
		a.spoofs++
	}
}

// delta is the growth of a cumulative count; a count that went back (the
// tenant left the policy and came back) starts over.
func delta(now, last uint64) uint64 {
	if now < last {
		return now
	}
	return now - last
}

// close turns the interval's access counts into findings. c is what the
// source reports now (zero when it has nothing for the tenant); partial
// closes (the first after a start) only take the reading.
func (a *accessState) close(cfg AccessConfig, c access.Counts, partial bool) []finding {
	failures, spoofs, fresh := delta(c.AuthFailures, a.lastFailures), delta(c.Spoofs, a.lastSpoofs)+a.spoofs, delta(c.NewAddresses, a.lastNew)
	if !a.read {
		// The counts before the first reading are not this interval's.
		failures, spoofs, fresh = 0, a.spoofs, 0
	}
	a.lastFailures, a.lastSpoofs, a.lastNew, a.spoofs, a.read = c.AuthFailures, c.Spoofs, c.NewAddresses, 0, true
	if partial {
		return nil
	}
	var fs []finding
	expected := a.failureRate
	if f := float64(failures); failures >= uint64(cfg.AuthFailureBurst) && f >= cfg.AuthFailureFactor*expected {
		fs = append(fs, finding{key: featAccessAuthFailures, observed: f, expected: expected, score: 1 - expected/f})
	}
	a.failureRate += authFailureAlpha * (float64(failures) - a.failureRate)
	if spoofs > 0 {
		fs = append(fs, finding{key: featAccessSpoofs, observed: float64(spoofs), score: 1})
	}
	if fresh > 0 {
		fs = append(fs, finding{key: featAccessNewAddresses, observed: float64(fresh), score: 1})
	}
	return fs
}
