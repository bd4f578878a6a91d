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
	mu     sync.Mutex
	counts map[string]access.Counts
	creds  map[string][]access.CredentialCounts
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

func (p *accessProvider) add(tenant string, f func(*access.Counts)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts[tenant]
	f(&c)
	p.counts[tenant] = c
}

func newAccessHarness(t *testing.T) (*harness, *accessProvider) {
	prov := &accessProvider{Static: policy.Static{P: loadPolicy(t)}, counts: map[string]access.Counts{}, creds: map[string][]access.CredentialCounts{}}
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

// A burst of failed authentications and a new client address for acme are
// _governance records with what was observed and expected; initech, quiet,
// has none. Access rules need no probation.
func TestAccessAnomalies(t *testing.T) {
	h, prov := newAccessHarness(t)
	h.flush() // the partial first interval
	// A steady trickle of failures is acme's normal.
	for range 20 {
		prov.add("acme", func(c *access.Counts) { c.AuthFailures += 2; c.Requests += 10 })
		prov.add("initech", func(c *access.Counts) { c.Requests += 10 })
		h.flush()
	}
	require.Empty(t, h.anomalies(), "a steady trickle of failures is no burst")

	prov.add("acme", func(c *access.Counts) { c.AuthFailures += 40 })
	h.flush()
	recs := h.anomalies()
	require.Len(t, recs, 1)
	a := recs[0].Attributes()
	assert.Equal(t, "acme", str(a, AttrTenantID))
	assert.Equal(t, featAccessAuthFailures, str(a, AttrFeature))
	obs, _ := a.Get(AttrObserved)
	exp, _ := a.Get(AttrExpected)
	score, _ := a.Get(AttrScore)
	assert.Equal(t, 40.0, obs.Double())
	learnt := 2 * (1 - math.Pow(1-authFailureAlpha, 20)) // an EWMA of 20 intervals of 2, from 0
	assert.InDelta(t, learnt, exp.Double(), 1e-9, "expected is the learnt rate")
	assert.InDelta(t, 1-learnt/40, score.Double(), 1e-9)

	// A new client address (and the trickle, back to normal): expected 0.
	prov.add("acme", func(c *access.Counts) { c.AuthFailures += 2; c.NewAddresses++ })
	h.flush()
	recs = h.anomalies()
	require.Len(t, recs, 2)
	a = recs[1].Attributes()
	assert.Equal(t, featAccessNewAddresses, str(a, AttrFeature))
	obs, _ = a.Get(AttrObserved)
	exp, _ = a.Get(AttrExpected)
	assert.Equal(t, 1.0, obs.Double())
	assert.Equal(t, 0.0, exp.Double())
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
