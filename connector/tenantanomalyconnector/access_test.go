package tenantanomalyconnector

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

// accessProvider is a policy extension that counts access, as the
// tenantpolicy extension does.
type accessProvider struct {
	component.StartFunc
	component.ShutdownFunc
	policy.Static
	mu      sync.Mutex
	counts  map[string]access.Counts
	creds   map[string][]access.CredentialCounts
	readers map[string][]string
}

func (p *accessProvider) AccessCounts(tenant string) (access.Counts, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.counts[tenant]
	return c, ok
}

func (p *accessProvider) AccessCredentials(tenant string) []access.CredentialCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.creds[tenant]
}

func (p *accessProvider) AccessStoreReaders(tenant string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readers[tenant]
}

func (p *accessProvider) add(tenant string, f func(*access.Counts)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts[tenant]
	f(&c)
	p.counts[tenant] = c
}

func newAccessHarness(t *testing.T) (*harness, *accessProvider) {
	prov := &accessProvider{Static: policy.Static{P: loadPolicy(t)}, counts: map[string]access.Counts{}, creds: map[string][]access.CredentialCounts{}, readers: map[string][]string{}}
	host := policytest.Host{Host: componenttest.NewNopHost(), Exts: map[component.ID]component.Component{policytest.ExtensionID: prov}}
	h := newHarnessOn(t, testConfig(), host, t0)
	return h, prov
}

// accessFindings returns, per tenant, the features of its records.
func accessFindings(h *harness) map[string][]string {
	out := map[string][]string{}
	for _, lr := range h.anomalies() {
		fs, _ := lr.Attributes().Get(AttrFeatures)
		for i := 0; i < fs.Slice().Len(); i++ {
			tn := str(lr.Attributes(), AttrTenantID)
			out[tn] = append(out[tn], fs.Slice().At(i).Str())
		}
	}
	return out
}

// trickleThenBurst gives acme 20 intervals of trickle, which flag nothing
// (initech has requests and nothing else), then one of burst, which is
// acme's one record; it returns that record's attributes with its observed
// and expected values.
func trickleThenBurst(t *testing.T, h *harness, prov *accessProvider, trickle, burst func(*access.Counts)) (a pcommon.Map, observed, expected float64) {
	t.Helper()
	h.flush() // the partial first interval
	for range 20 {
		prov.add("acme", trickle)
		prov.add("initech", func(c *access.Counts) { c.Requests += 10 })
		h.flush()
	}
	require.Empty(t, h.anomalies(), "a steady trickle is no burst")
	prov.add("acme", burst)
	h.flush()
	a, observed, expected = lastRecord(t, h, 1)
	assert.Equal(t, "acme", str(a, AttrTenantID))
	return a, observed, expected
}

// lastRecord asserts there are n records and returns the last one's
// attributes with its observed and expected values.
func lastRecord(t *testing.T, h *harness, n int) (a pcommon.Map, observed, expected float64) {
	t.Helper()
	recs := h.anomalies()
	require.Len(t, recs, n)
	a = recs[n-1].Attributes()
	obs, _ := a.Get(AttrObserved)
	exp, _ := a.Get(AttrExpected)
	return a, obs.Double(), exp.Double()
}

// A burst of failed authentications and a new client address for acme are
// _governance records with what was observed and expected; initech, quiet,
// has none. Access rules need no probation.
func TestAccessAnomalies(t *testing.T) {
	h, prov := newAccessHarness(t)
	// A steady trickle of failures is acme's normal.
	a, obs, exp := trickleThenBurst(t, h, prov,
		func(c *access.Counts) { c.AuthFailures += 2; c.Requests += 10 },
		func(c *access.Counts) { c.AuthFailures += 40 })
	assert.Equal(t, featAccessAuthFailures, str(a, AttrFeature))
	score, _ := a.Get(AttrScore)
	assert.Equal(t, 40.0, obs)
	learnt := 2 * (1 - math.Pow(1-rateAlpha, 20)) // an EWMA of 20 intervals of 2, from 0
	assert.InDelta(t, learnt, exp, 1e-9, "expected is the learnt rate")
	assert.InDelta(t, 1-learnt/40, score.Double(), 1e-9)

	// A new client address (and the trickle, back to normal): expected 0.
	prov.add("acme", func(c *access.Counts) { c.AuthFailures += 2; c.NewAddresses++ })
	h.flush()
	a, obs, exp = lastRecord(t, h, 2)
	assert.Equal(t, featAccessNewAddresses, str(a, AttrFeature))
	assert.Equal(t, 1.0, obs)
	assert.Equal(t, 0.0, exp)
	assert.Equal(t, map[string][]string{"acme": {featAccessAuthFailures, featAccessNewAddresses}}, accessFindings(h), "initech, quiet, has none")

	// The next interval is quiet again: no record.
	h.flush()
	assert.Len(t, h.anomalies(), 2)
}

// Failures below the burst floor are no anomaly however small the rate.
func TestAccessBurstFloor(t *testing.T) {
	h, prov := newAccessHarness(t)
	h.flush()
	h.flush()
	prov.add("acme", func(c *access.Counts) { c.AuthFailures += uint64(h.cfg.Access.AuthFailureBurst - 1) })
	h.flush()
	assert.Empty(t, h.anomalies())
	prov.add("acme", func(c *access.Counts) { c.AuthFailures += uint64(h.cfg.Access.AuthFailureBurst) })
	h.flush()
	assert.Equal(t, map[string][]string{"acme": {featAccessAuthFailures}}, accessFindings(h))
}

// Counts from before the connector's first reading (the extension counted
// before the connector started) are not the first interval's.
func TestAccessCountsBeforeFirstReading(t *testing.T) {
	h, prov := newAccessHarness(t)
	prov.add("acme", func(c *access.Counts) { c.AuthFailures = 500; c.NewAddresses = 3 })
	h.flush()
	h.flush()
	assert.Empty(t, h.anomalies())
}

// A spoof is a record with expected 0, whether the edge refused it (the
// tenant's key with another tenant's header) or the tenant processor
// quarantined it (the tenant's key, a resource naming another); the record
// names the credential. It counts for the sender, never the tenant named.
func TestAccessSpoofs(t *testing.T) {
	h, prov := newAccessHarness(t)
	h.flush()
	h.flush()
	prov.add("acme", func(c *access.Counts) { c.Spoofs++ })
	prov.creds["acme"] = []access.CredentialCounts{{ID: "key:aaaaaaaaaaaa", Requests: 9}, {ID: "key:bbbbbbbbbbbb", Failures: 1}}
	h.flush()
	recs := h.anomalies()
	require.Len(t, recs, 1)
	a := recs[0].Attributes()
	assert.Equal(t, featAccessSpoofs, str(a, AttrFeature))
	obs, _ := a.Get(AttrObserved)
	exp, _ := a.Get(AttrExpected)
	assert.Equal(t, 1.0, obs.Double())
	assert.Equal(t, 0.0, exp.Double())
	creds, _ := a.Get(AttrCredentials)
	assert.Equal(t, []any{"key:bbbbbbbbbbbb"}, creds.Slice().AsRaw())

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Quarantine)
	rl.Resource().Attributes().PutStr(identity.AttrQuarantineReason, "spoofed")
	rl.Resource().Attributes().PutStr(identity.AttrClaimed, "initech")
	rl.Resource().Attributes().PutStr(identity.AttrAuthenticated, "acme")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, h.logs.ConsumeLogs(t.Context(), ld))
	h.flush()
	recs = h.anomalies()
	require.Len(t, recs, 2)
	assert.Equal(t, "acme", str(recs[1].Attributes(), AttrTenantID))
	assert.Equal(t, featAccessSpoofs, str(recs[1].Attributes(), AttrFeature))
}

// Whatever a hostile caller sends, the connector keeps access state only
// for the policy's enabled tenants: counts the source holds for other ids
// are never read, and invented tenants on resources key nothing.
func TestAccessUnboundedGrowthAttack(t *testing.T) {
	h, prov := newAccessHarness(t)
	for i := range 5000 {
		prov.add(fmt.Sprintf("invented-%d", i), func(c *access.Counts) { c.AuthFailures += 100 })
		ld := plog.NewLogs()
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Quarantine)
		rl.Resource().Attributes().PutStr(identity.AttrQuarantineReason, "spoofed")
		rl.Resource().Attributes().PutStr(identity.AttrAuthenticated, fmt.Sprintf("invented-%d", i))
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		require.NoError(t, h.logs.ConsumeLogs(t.Context(), ld))
	}
	h.flush()
	h.flush()
	m := h.monitor()
	m.mu.Lock()
	n := len(m.series)
	m.mu.Unlock()
	assert.Equal(t, len(m.view.Load().tenants), n, "series only for the policy's enabled tenants")
	assert.Empty(t, h.anomalies())
}

// Reads of acme's store (tenancyctl queries the router's store found in
// its audit log) in a burst are a _governance record with what was
// observed and expected; a steady trickle is acme's normal, and initech,
// never queried, has none.
func TestAccessStoreReads(t *testing.T) {
	h, prov := newAccessHarness(t)
	prov.readers["acme"] = []string{"tenancyctl:mallory", "tenancyctl:alice"}
	a, obs, exp := trickleThenBurst(t, h, prov,
		func(c *access.Counts) { c.StoreReads++ },
		func(c *access.Counts) { c.StoreReads += 30 })
	readers, _ := a.Get(AttrStoreReaders)
	assert.Equal(t, []any{"tenancyctl:mallory", "tenancyctl:alice"}, readers.Slice().AsRaw(), "who read it last")
	assert.Equal(t, featAccessStoreReads, str(a, AttrFeature))
	learnt := 1 - math.Pow(1-rateAlpha, 20) // an EWMA of 20 intervals of 1, from 0
	assert.Equal(t, 30.0, obs)
	assert.InDelta(t, learnt, exp, 1e-9)
	assert.Equal(t, map[string][]string{"acme": {featAccessStoreReads}}, accessFindings(h))
	_, named := a.Get(AttrCredentials)
	assert.False(t, named, "a store read names no credential")

	// Below the floor, however far above the rate: no record.
	prov.add("initech", func(c *access.Counts) { c.StoreReads += uint64(h.cfg.Access.StoreReadBurst - 1) })
	h.flush()
	assert.Len(t, h.anomalies(), 1)
}

// credentialHarness is an access harness whose acme uses two credentials
// at steady rates for the probation.
func credentialHarness(t *testing.T) (*harness, *accessProvider, func(a, b uint64)) {
	h, prov := newAccessHarness(t)
	send := func(a, b uint64) {
		prov.mu.Lock()
		defer prov.mu.Unlock()
		creds := prov.creds["acme"]
		if creds == nil {
			creds = []access.CredentialCounts{{ID: "key:aaaaaaaaaaaa"}, {ID: "key:bbbbbbbbbbbb"}}
		}
		creds[0].Requests += a
		creds[1].Requests += b
		prov.creds["acme"] = creds
	}
	h.flush()
	for i := range h.cfg.Probation {
		send(200+uint64(i%3), 10) // a busy credential and a quiet one
		h.flush()
	}
	require.Empty(t, h.anomalies(), "steady rates, or bursts during the probation, flag nothing")
	return h, prov, send
}

// A credential whose requests burst past its learnt rate is named on the
// tenant's record; the tenant's other credential is not.
func TestAccessCredentialRequests(t *testing.T) {
	h, _, send := credentialHarness(t)
	send(200, 10*20) // the quiet credential at 20 times its rate
	h.flush()
	a, obs, exp := lastRecord(t, h, 1)
	assert.Equal(t, "acme", str(a, AttrTenantID))
	assert.Equal(t, featAccessCredentialRequests, str(a, AttrFeature))
	assert.Equal(t, "key:bbbbbbbbbbbb", str(a, AttrCredential))
	creds, _ := a.Get(AttrCredentials)
	assert.Equal(t, []any{"key:bbbbbbbbbbbb"}, creds.Slice().AsRaw())
	assert.Equal(t, 200.0, obs)
	assert.InDelta(t, 10.0, exp, 1e-9, "its learnt rate")

	// Both burst: one feature, both credentials named, the stronger on top.
	send(2000, 1000)
	h.flush()
	a, _, _ = lastRecord(t, h, 2)
	fs, _ := a.Get(AttrFeatures)
	assert.Equal(t, []any{featAccessCredentialRequests}, fs.Slice().AsRaw())
	creds, _ = a.Get(AttrCredentials)
	assert.Equal(t, []any{"key:aaaaaaaaaaaa", "key:bbbbbbbbbbbb"}, creds.Slice().AsRaw())
	assert.Equal(t, "key:bbbbbbbbbbbb", str(a, AttrCredential), "1000 against ~19 scores above 2000 against ~200")
}

// A burst below the floor, or under factor times the rate, is no anomaly.
func TestAccessCredentialBurstFloorAndFactor(t *testing.T) {
	h, _, send := credentialHarness(t)
	send(200, uint64(h.cfg.Access.CredentialRequestBurst-1)) // ~10x the quiet one's rate, under the floor
	h.flush()
	send(2*200, 10) // twice the busy one's rate, under the factor
	h.flush()
	assert.Empty(t, h.anomalies())
}

// The connector keeps a rate only for the credentials the source reports,
// which the tracker bounds to the tenant's keys in the policy: a key the
// policy dropped (and the tracker forgot) leaves the state too.
func TestAccessCredentialStateFollowsTheSource(t *testing.T) {
	h, prov, _ := credentialHarness(t)
	m := h.monitor()
	state := func() []string {
		s := m.view.Load().tenants["acme"].series
		s.mu.Lock()
		defer s.mu.Unlock()
		var ids []string
		for _, c := range s.access.creds {
			ids = append(ids, c.id)
		}
		return ids
	}
	assert.Equal(t, []string{"key:aaaaaaaaaaaa", "key:bbbbbbbbbbbb"}, state())
	prov.mu.Lock()
	prov.creds["acme"] = prov.creds["acme"][1:]
	prov.mu.Unlock()
	h.flush()
	assert.Equal(t, []string{"key:bbbbbbbbbbbb"}, state())
	assert.Empty(t, h.anomalies())
}
