package tenantanomalyconnector

import (
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/tenancyhq/tenancy/internal/access"
)

// Access-pattern features. They are rules, not detectors: a detector costs
// ~1 KiB per series, and 10,000 tenants' 19 signal features already take
// 198.5 of the 200 MiB budget. A never-seen client address and a spoof
// attempt are anomalies whatever their history (expected 0); bursts of
// authentication failures, of reads of the tenant's store and of one
// credential's requests are judged against their learnt rates.
const (
	featAccessAuthFailures       = "access.auth_failures"
	featAccessSpoofs             = "access.spoofs"
	featAccessNewAddresses       = "access.new_addresses"
	featAccessStoreReads         = "access.store_reads"
	featAccessCredentialRequests = "access.credential_requests"
)

// AttrStoreReaders lists, on a record with access.store_reads, who read
// the tenant's store last (the audit entries' actors, "tenancyctl:<user>"),
// the latest first.
const AttrStoreReaders = "anomaly.store_readers"

// rateAlpha is the weight of one interval in a learnt rate: about the last
// 20 intervals count.
const rateAlpha = 0.05

// learntRate is a cumulative count read at each close, and its learnt
// rate per interval.
type learntRate struct {
	last uint64  // the count read at the previous close
	mean float64 // exponentially weighted mean of the interval's growth
}

// burst learns the interval's count n and returns it as a finding when it
// reaches floor and factor times the rate learnt before it.
func (r *learntRate) burst(key string, n uint64, floor int, factor float64) (finding, bool) {
	expected, f := r.mean, float64(n)
	r.mean += rateAlpha * (f - r.mean)
	if n < uint64(floor) || f < factor*expected {
		return finding{}, false
	}
	return finding{key: key, observed: f, expected: expected, score: 1 - expected/f}, true
}

// credentialRate is the learnt request rate of one of the tenant's
// credentials.
type credentialRate struct {
	id string
	learntRate
	seen uint32 // intervals learnt, up to probation
}

// accessState is one tenant's access-pattern state, kept in tenantSeries
// beside its detectors: 88 bytes, and 40 per credential in use.
type accessState struct {
	// failures and reads are the authentication failures claiming the
	// tenant and the reads of its store, with their learnt rates.
	failures, reads learntRate
	// lastSpoofs and lastNew are the cumulative counts read at the
	// previous close, for the interval's differences.
	lastSpoofs, lastNew uint64
	// spoofs are the open interval's resources the tenant processor
	// quarantined as spoofed whose verified sender is this tenant (a spoof
	// the edge could not see: a key of this tenant, a resource naming
	// another); guarded by tenantSeries.mu.
	spoofs uint64
	// creds are the request rates of the credentials the source reports,
	// in its (id) order: the policy's keys of the tenant that were used.
	creds []credentialRate
	read  bool // last* hold a read
}

// accessReading is what the access source reports of a tenant at a close.
type accessReading struct {
	counts access.Counts
	creds  []access.CredentialCounts
}

// readAccess reads the tenant's counts (zero without a source).
func (m *monitor) readAccess(tenant string) (r accessReading) {
	if m.access != nil {
		r.counts, _ = m.access.AccessCounts(tenant)
		r.creds = m.access.AccessCredentials(tenant)
	}
	return r
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

// close turns the interval's access counts into findings. Partial closes
// (the first after a start) only take the reading.
func (a *accessState) close(cfg *Config, r accessReading, partial bool) []finding {
	c := r.counts
	failures, reads := delta(c.AuthFailures, a.failures.last), delta(c.StoreReads, a.reads.last)
	spoofs, fresh := delta(c.Spoofs, a.lastSpoofs)+a.spoofs, delta(c.NewAddresses, a.lastNew)
	first := !a.read
	if first {
		// The counts before the first reading are not this interval's.
		failures, reads, spoofs, fresh = 0, 0, a.spoofs, 0
	}
	a.failures.last, a.reads.last, a.lastSpoofs, a.lastNew, a.spoofs, a.read = c.AuthFailures, c.StoreReads, c.Spoofs, c.NewAddresses, 0, true
	fs := a.closeCredentials(cfg, r.creds, first, partial)
	if partial {
		return nil
	}
	ac := cfg.Access
	if f, ok := a.failures.burst(featAccessAuthFailures, failures, ac.AuthFailureBurst, ac.AuthFailureFactor); ok {
		fs = append(fs, f)
	}
	if f, ok := a.reads.burst(featAccessStoreReads, reads, ac.StoreReadBurst, ac.StoreReadFactor); ok {
		fs = append(fs, f)
	}
	if spoofs > 0 {
		fs = append(fs, finding{key: featAccessSpoofs, observed: float64(spoofs), score: 1})
	}
	if fresh > 0 {
		fs = append(fs, finding{key: featAccessNewAddresses, observed: float64(fresh), score: 1})
	}
	return fs
}

// closeCredentials judges each credential's requests in the interval
// against its learnt rate, after probation intervals of learning (a
// credential's rate, unlike failures, is not 0 by nature). State is kept
// only for the credentials the source reports, which are the tenant's
// keys in the policy: a caller cannot add any.
func (a *accessState) closeCredentials(cfg *Config, creds []access.CredentialCounts, first, partial bool) []finding {
	if !slices.EqualFunc(a.creds, creds, func(s credentialRate, c access.CredentialCounts) bool { return s.id == c.ID }) {
		next := make([]credentialRate, len(creds))
		for i, c := range creds {
			if j := slices.IndexFunc(a.creds, func(s credentialRate) bool { return s.id == c.ID }); j >= 0 {
				next[i] = a.creds[j]
			} else if next[i].id = c.ID; first {
				// Counted before the first reading: not this interval's. A
				// credential new later counts from 0.
				next[i].last = c.Requests
			}
		}
		a.creds = next
	}
	var fs []finding
	ac := cfg.Access
	for i, c := range creds {
		s := &a.creds[i]
		n := delta(c.Requests, s.last)
		s.last = c.Requests
		if partial || first {
			continue
		}
		if s.seen == 0 {
			s.mean = float64(n) // a first interval is the best guess of the rate
		}
		f, ok := s.burst(featAccessCredentialRequests, n, ac.CredentialRequestBurst, ac.CredentialRequestFactor)
		if ok && int(s.seen) >= cfg.Probation {
			f.credential = s.id
			fs = append(fs, f)
		}
		if s.seen < math.MaxUint32 {
			s.seen++
		}
	}
	return fs
}

// putAccessSubjects names, on a tenant's record, whom its access findings
// concern: the credentials spoof attempts were made with and those whose
// request rate burst (the top finding's own, if it has one, also as
// anomaly.credential), and who read the store last.
func (m *monitor) putAccessSubjects(a pcommon.Map, tf tenantFindings) {
	var ids []string
	for _, f := range tf.findings {
		switch {
		case f.credential != "":
			ids = append(ids, f.credential)
		case f.key == featAccessSpoofs && m.access != nil:
			for _, c := range m.access.AccessCredentials(tf.series.id) {
				if c.Failures > 0 {
					ids = append(ids, c.ID)
				}
			}
		case f.key == featAccessStoreReads && m.access != nil:
			if readers := m.access.AccessStoreReaders(tf.series.id); len(readers) > 0 {
				s := a.PutEmptySlice(AttrStoreReaders)
				for _, r := range readers {
					s.AppendEmpty().SetStr(r)
				}
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	slices.Sort(ids)
	s := a.PutEmptySlice(AttrCredentials)
	for _, id := range slices.Compact(ids) {
		s.AppendEmpty().SetStr(id)
	}
	if top := tf.findings[0]; top.credential != "" {
		a.PutStr(AttrCredential, top.credential)
	}
}
