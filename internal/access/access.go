// Package access counts, per policy tenant, what the edge authenticator
// sees of its callers: authenticated requests (per credential), refused
// requests that claimed the tenant, spoof attempts made with its keys, and
// the client addresses it is reached from; and the reads of the tenant's
// store (queries, exports, backups) that the router's local store finds in
// the tenant's audit log. The tenantanomaly connector reads the counts at
// each interval close and turns them into _governance records.
//
// The tenantpolicy extension holds the one Tracker of a collector: the
// authenticator and the router find it as their policy provider, the
// connector as its Source, so the counts pass between components without
// any state of their own.
//
// Memory is bounded by the policy, never by the callers: only tenants the
// policy declares are keyed (a claim of any other id is not stored), a
// tenant's credentials are its own keys, and its addresses are a fixed-size
// set, so a client inventing tenant ids, keys or addresses grows nothing.
package access

import (
	"hash/maphash"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Counts are one tenant's cumulative counts since the collector started
// (or since the tenant entered the policy): a reader takes differences
// between two reads, so any number of readers can share one Tracker.
type Counts struct {
	// Requests authenticated as the tenant by one of its keys.
	Requests uint64
	// AuthFailures are refused requests whose tenant header claimed the
	// tenant and whose sender no key proved (an unknown key or none); a
	// request with another tenant's key is that tenant's spoof instead.
	AuthFailures uint64
	// Spoofs are requests that presented one of the tenant's keys and named
	// another tenant in the header: the credential's failures.
	Spoofs uint64
	// NewAddresses are authenticated requests from a client address not in
	// the tenant's known set, once its learning period is over.
	NewAddresses uint64
	// Addresses is how many distinct client addresses the tenant's set
	// holds (at most the set's size).
	Addresses int
	// StoreReads are the audit entries of reads of the tenant's store
	// (tenancyctl query, lineage, export, backup) that a StoreReadSink was
	// told of.
	StoreReads uint64
}

// CredentialCounts are the counts of one of a tenant's credentials.
type CredentialCounts struct {
	ID       string // identity.KeyID of the key
	Requests uint64
	Failures uint64 // spoof attempts made with it
}

// Source serves the counts; the tenantpolicy extension is one.
type Source interface {
	// AccessCounts returns the tenant's counts; false for a tenant not in
	// the policy or not seen yet.
	AccessCounts(tenant string) (Counts, bool)
	// AccessCredentials returns the tenant's credentials' counts, by id.
	AccessCredentials(tenant string) []CredentialCounts
	// AccessStoreReaders returns who read the tenant's store last, the
	// latest first (at most MaxStoreReaders).
	AccessStoreReaders(tenant string) []string
}

// MaxStoreReaders bounds the readers kept per tenant.
const MaxStoreReaders = 4

// StoreReadSink takes the reads of tenants' stores: the tenantrouter's
// local store finds them in the tenants' audit logs (another process, such
// as tenancyctl, writes them) and reports them here; the tenantpolicy
// extension is one.
type StoreReadSink interface {
	// CountStoreReads adds n reads of the tenant's store by actors (the
	// latest first); a tenant not in the policy is not counted.
	CountStoreReads(tenant string, n uint64, actors []string)
}

// Tracker counts per tenant. It is safe for concurrent use.
type Tracker struct {
	learning time.Duration
	maxAddrs int
	now      func() time.Time
	seed     maphash.Seed

	mu      sync.Mutex
	tenants map[string]*tenantAccess
}

type tenantAccess struct {
	c     Counts
	first time.Time // first authenticated request: the learning period's start
	addrs []uint64  // hashed client IPs, a ring of at most maxAddrs
	next  int       // ring position the next new address overwrites
	// creds are the tenant's keys that were used: a slice, as a tenant has
	// a handful (a map costs ~200 bytes more per tenant).
	creds []CredentialCounts
	// readers are who read the tenant's store last, the latest first.
	readers []string
}

// New returns a tracker. Addresses seen in a tenant's first learning
// period are learnt silently; each tenant keeps at most maxAddrs (when the
// set is full, the oldest address is forgotten).
func New(learning time.Duration, maxAddrs int, now func() time.Time) *Tracker {
	if maxAddrs < 1 {
		maxAddrs = 1
	}
	return &Tracker{learning: learning, maxAddrs: maxAddrs, now: now, seed: maphash.MakeSeed(), tenants: map[string]*tenantAccess{}}
}

// entry returns the tenant's counters, creating them only for a tenant p
// declares; the caller holds t.mu.
func (t *Tracker) entry(p *policy.Policy, tenant string) *tenantAccess {
	a := t.tenants[tenant]
	if a == nil {
		if _, ok := p.Tenant(tenant); !ok {
			return nil
		}
		a = &tenantAccess{}
		t.tenants[tenant] = a
	}
	return a
}

// Accepted counts a request that credential (a key of tenant's) proved,
// from addr (nil when the transport did not say).
func (t *Tracker) Accepted(p *policy.Policy, tenant, credential string, addr net.Addr) {
	h, hasAddr := t.hashAddr(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.entry(p, tenant)
	if a == nil {
		return
	}
	a.c.Requests++
	a.credential(credential).Requests++
	if !hasAddr {
		return
	}
	now := t.now()
	if a.first.IsZero() {
		a.first = now
	}
	if slices.Contains(a.addrs, h) {
		return
	}
	// A tenant's first address has nothing to be compared with.
	if len(a.addrs) > 0 && now.Sub(a.first) >= t.learning {
		a.c.NewAddresses++
	}
	if len(a.addrs) < t.maxAddrs {
		a.addrs = append(a.addrs, h)
	} else {
		a.addrs[a.next] = h
		a.next = (a.next + 1) % len(a.addrs)
	}
	a.c.Addresses = len(a.addrs)
}

// Refused counts a refused request: for claimed, the tenant its header
// named (if any), and for owner, the tenant whose key credential it
// presented with another tenant's header (if any). Ids the policy does not
// declare are not counted here (the refusal metric counts them by reason).
func (t *Tracker) Refused(p *policy.Policy, claimed, owner, credential string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if claimed != "" {
		if a := t.entry(p, claimed); a != nil {
			a.c.AuthFailures++
		}
	}
	if owner != "" {
		if a := t.entry(p, owner); a != nil {
			a.c.Spoofs++
			a.credential(credential).Failures++
		}
	}
}

// StoreReads counts n reads of the tenant's store by actors, the latest
// first; the tenant keeps the MaxStoreReaders latest distinct actors.
func (t *Tracker) StoreReads(p *policy.Policy, tenant string, n uint64, actors []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.entry(p, tenant)
	if a == nil {
		return
	}
	a.c.StoreReads += n
	if len(actors) == 0 {
		return
	}
	readers := make([]string, 0, MaxStoreReaders)
	for _, r := range append(slices.Clip(actors), a.readers...) {
		if len(readers) < MaxStoreReaders && !slices.Contains(readers, r) {
			readers = append(readers, r)
		}
	}
	a.readers = readers
}

// StoreReaders returns who read the tenant's store last, the latest first.
func (t *Tracker) StoreReaders(tenant string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.tenants[tenant]; ok {
		return slices.Clone(a.readers)
	}
	return nil
}

// credential returns the counts of one of the tenant's own credentials.
func (a *tenantAccess) credential(id string) *CredentialCounts {
	for i := range a.creds {
		if a.creds[i].ID == id {
			return &a.creds[i]
		}
	}
	a.creds = append(a.creds, CredentialCounts{ID: id})
	return &a.creds[len(a.creds)-1]
}

// Retain forgets the tenants p does not declare, and the credentials that
// are no longer their tenant's keys, so a policy that drops tenants or
// keys frees their counters (their counts start from 0 if they return),
// and every credential a reader sees is one of the policy's keys.
func (t *Tracker) Retain(p *policy.Policy) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, a := range t.tenants {
		tn, ok := p.Tenant(id)
		if !ok {
			delete(t.tenants, id)
			continue
		}
		if len(a.creds) == 0 {
			continue
		}
		keys := make([]string, len(tn.APIKeys))
		for i, h := range tn.APIKeys {
			keys[i] = identity.KeyIDOfDigest(h)
		}
		a.creds = slices.DeleteFunc(a.creds, func(c CredentialCounts) bool { return !slices.Contains(keys, c.ID) })
	}
}

// Counts returns the tenant's counts.
func (t *Tracker) Counts(tenant string) (Counts, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.tenants[tenant]
	if !ok {
		return Counts{}, false
	}
	return a.c, true
}

// Credentials returns the counts of the tenant's credentials, sorted by id.
func (t *Tracker) Credentials(tenant string) []CredentialCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.tenants[tenant]
	if !ok {
		return nil
	}
	out := slices.Clone(a.creds)
	slices.SortFunc(out, func(x, y CredentialCounts) int { return strings.Compare(x.ID, y.ID) })
	return out
}

// Len is the number of tenants with counters.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tenants)
}

// hashAddr hashes the client's IP (not its port: a client opens many
// connections). Only the hash is kept.
func (t *Tracker) hashAddr(addr net.Addr) (uint64, bool) {
	var ip net.IP
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	case *net.IPAddr:
		ip = a.IP
	case nil:
		return 0, false
	default:
		host, _, err := net.SplitHostPort(a.String())
		if err != nil {
			host = a.String()
		}
		ip = net.ParseIP(host)
	}
	if ip == nil {
		return 0, false
	}
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	return maphash.Bytes(t.seed, ip), true
}
