package access

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

func testPolicy(t *testing.T, tenants ...string) *policy.Policy {
	t.Helper()
	y := "tenants:\n"
	for _, id := range tenants {
		y += fmt.Sprintf("  %s: {identifiers: [%s]}\n", id, id)
	}
	p, err := policy.Parse("tenants.yaml", []byte(y))
	require.NoError(t, err)
	return p
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func tcp(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 40000} }

func TestNewAddressAfterLearning(t *testing.T) {
	p := testPolicy(t, "acme", "globex")
	clk := &clock{t: time.Unix(1000, 0)}
	tr := New(time.Minute, 4, clk.now)

	tr.Accepted(p, "acme", "key:a", tcp("10.0.0.1"))
	tr.Accepted(p, "acme", "key:a", &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 1}) // another port, same client
	tr.Accepted(p, "acme", "key:a", tcp("10.0.0.2"))                                    // learnt: within the first minute
	c, _ := tr.Counts("acme")
	assert.Equal(t, Counts{Requests: 3, Addresses: 2}, c)

	clk.t = clk.t.Add(2 * time.Minute)
	tr.Accepted(p, "acme", "key:a", tcp("10.0.0.2"))
	tr.Accepted(p, "acme", "key:b", tcp("10.0.0.3"))
	tr.Accepted(p, "acme", "key:b", tcp("10.0.0.3")) // new once, known after
	c, _ = tr.Counts("acme")
	assert.Equal(t, Counts{Requests: 6, NewAddresses: 1, Addresses: 3}, c)
	assert.Equal(t, []CredentialCounts{{ID: "key:a", Requests: 4}, {ID: "key:b", Requests: 2}}, tr.Credentials("acme"))

	_, ok := tr.Counts("globex")
	assert.False(t, ok, "a tenant nothing happened to has no counters")
}

func TestNoAddressNoLearningClock(t *testing.T) {
	p := testPolicy(t, "acme")
	clk := &clock{t: time.Unix(1000, 0)}
	tr := New(time.Minute, 4, clk.now)
	tr.Accepted(p, "acme", "key:a", nil)
	clk.t = clk.t.Add(time.Hour)
	// The learning period starts with the first address, not the first request.
	tr.Accepted(p, "acme", "key:a", tcp("10.0.0.1"))
	c, _ := tr.Counts("acme")
	assert.Equal(t, Counts{Requests: 2, Addresses: 1}, c)
}

func TestRefused(t *testing.T) {
	p := testPolicy(t, "acme", "globex")
	tr := New(time.Minute, 4, time.Now)
	tr.Refused(p, "acme", "", "")            // unknown key claiming acme
	tr.Refused(p, "acme", "globex", "key:g") // globex's key with acme's header
	tr.Refused(p, "nobody", "", "")          // not a policy tenant: not kept
	a, _ := tr.Counts("acme")
	g, _ := tr.Counts("globex")
	assert.Equal(t, Counts{AuthFailures: 2}, a)
	assert.Equal(t, Counts{Spoofs: 1}, g)
	assert.Equal(t, []CredentialCounts{{ID: "key:g", Failures: 1}}, tr.Credentials("globex"))
	assert.Equal(t, 2, tr.Len())
}

// Store reads count for policy tenants only, and add up; the tenant keeps
// who read it last.
func TestStoreReads(t *testing.T) {
	p := testPolicy(t, "acme", "globex")
	tr := New(time.Minute, 4, time.Now)
	tr.StoreReads(p, "acme", 3, []string{"ctl:b", "ctl:a"})
	tr.StoreReads(p, "acme", 2, nil)                      // a backup names nobody
	tr.StoreReads(p, "_quarantine", 7, []string{"ctl:q"}) // a pipeline tenant's store: not the policy's
	tr.StoreReads(p, "nobody", 7, nil)
	a, _ := tr.Counts("acme")
	assert.Equal(t, Counts{StoreReads: 5}, a)
	assert.Equal(t, 1, tr.Len())
	assert.Equal(t, []string{"ctl:b", "ctl:a"}, tr.StoreReaders("acme"))
	// The latest first, each once, at most MaxStoreReaders.
	tr.StoreReads(p, "acme", 4, []string{"ctl:c", "ctl:a", "ctl:d"})
	assert.Equal(t, []string{"ctl:c", "ctl:a", "ctl:d", "ctl:b"}, tr.StoreReaders("acme"))
	tr.StoreReads(p, "acme", 1, []string{"ctl:e"})
	assert.Equal(t, []string{"ctl:e", "ctl:c", "ctl:a", "ctl:d"}, tr.StoreReaders("acme"))
	assert.Nil(t, tr.StoreReaders("globex"))
}

// A hostile client inventing tenant ids and addresses grows nothing beyond
// the policy's tenants and each tenant's fixed address set.
func TestUnboundedGrowthAttack(t *testing.T) {
	p := testPolicy(t, "acme")
	clk := &clock{t: time.Unix(1000, 0)}
	tr := New(0, 16, clk.now)
	tr.Accepted(p, "acme", "key:a", tcp("192.168.0.1"))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range 200_000 {
		tr.Refused(p, fmt.Sprintf("invented-%d", i), fmt.Sprintf("other-%d", i), "key:x")
		tr.Accepted(p, "acme", "key:a", tcp(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)))
		tr.Accepted(p, fmt.Sprintf("invented-%d", i), "key:y", tcp("10.0.0.1"))
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	assert.Equal(t, 1, tr.Len())
	c, _ := tr.Counts("acme")
	assert.Equal(t, 16, c.Addresses)
	assert.Equal(t, uint64(200_000), c.NewAddresses, "every invented address is new, and counted")
	assert.Len(t, tr.Credentials("acme"), 1)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(64<<10), "heap grew by %d bytes", grown)
}

func TestRetain(t *testing.T) {
	tr := New(0, 4, time.Now)
	tr.Accepted(testPolicy(t, "acme", "globex"), "globex", "key:g", tcp("10.0.0.1"))
	tr.Retain(testPolicy(t, "acme"))
	assert.Equal(t, 0, tr.Len())
}

// A key the policy no longer holds is forgotten with its counts: readers
// only ever see the policy's credentials.
func TestRetainDropsRemovedKeys(t *testing.T) {
	const keyA, keyB = "acme-key-aaaaaaaaaaaaaaaa", "acme-key-bbbbbbbbbbbbbbbb"
	withKeys := func(keys ...string) *policy.Policy {
		y := "tenants:\n  acme:\n    api_keys: ["
		for i, k := range keys {
			h, err := policy.HashAPIKey(k)
			require.NoError(t, err)
			if i > 0 {
				y += ", "
			}
			y += `"` + h + `"`
		}
		p, err := policy.Parse("tenants.yaml", []byte(y+"]\n"))
		require.NoError(t, err)
		return p
	}
	p := withKeys(keyA, keyB)
	tr := New(0, 4, time.Now)
	tr.Accepted(p, "acme", identity.KeyID(keyA), nil)
	tr.Accepted(p, "acme", identity.KeyID(keyB), nil)
	tr.Retain(p)
	assert.Len(t, tr.Credentials("acme"), 2)
	tr.Retain(withKeys(keyB)) // keyA rotated out
	assert.Equal(t, []CredentialCounts{{ID: identity.KeyID(keyB), Requests: 1}}, tr.Credentials("acme"))
	c, _ := tr.Counts("acme")
	assert.Equal(t, uint64(2), c.Requests, "the tenant's own counts stay")
}

func TestHashAddrForms(t *testing.T) {
	tr := New(0, 4, time.Now)
	h1, ok1 := tr.hashAddr(tcp("127.0.0.2"))
	h2, ok2 := tr.hashAddr(&net.UDPAddr{IP: net.ParseIP("127.0.0.2").To16(), Port: 9})
	h3, ok3 := tr.hashAddr(addrString("127.0.0.2:1234"))
	h4, _ := tr.hashAddr(tcp("127.0.0.1"))
	_, ok5 := tr.hashAddr(addrString("a unix socket"))
	require.True(t, ok1 && ok2 && ok3)
	assert.Equal(t, h1, h2)
	assert.Equal(t, h1, h3)
	assert.NotEqual(t, h1, h4)
	assert.False(t, ok5)
}

type addrString string

func (a addrString) Network() string { return "test" }
func (a addrString) String() string  { return string(a) }

func BenchmarkAccepted(b *testing.B) {
	p, err := policy.Parse("tenants.yaml", []byte("tenants:\n  acme: {identifiers: [acme]}\n"))
	require.NoError(b, err)
	tr := New(0, 16, time.Now)
	addr := tcp("10.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		tr.Accepted(p, "acme", "key:a", addr)
	}
}

// BenchmarkCounts10kTenants is what an interval close pays to read every
// tenant's counts and credentials at 10,000 tenants, and what each tenant's counters
// retain with a full address set and one credential.
func BenchmarkCounts10kTenants(b *testing.B) {
	ids := make([]string, 10_000)
	y := "tenants:\n"
	for i := range ids {
		ids[i] = fmt.Sprintf("t%05d", i)
		y += fmt.Sprintf("  %s: {identifiers: [%s]}\n", ids[i], ids[i])
	}
	p, err := policy.Parse("tenants.yaml", []byte(y))
	require.NoError(b, err)
	var full, freed runtime.MemStats
	fill := func() *Tracker {
		tr := New(0, 16, time.Now)
		for i, id := range ids {
			// A full address set each, the most a tenant can keep.
			for j := range 16 {
				tr.Accepted(p, id, "key:a", tcp(fmt.Sprintf("10.%d.%d.%d", i>>8, i&255, j)))
			}
		}
		return tr
	}
	// Retained: the heap with the tracker against the heap once it is gone.
	tr := fill()
	runtime.GC()
	runtime.ReadMemStats(&full)
	runtime.KeepAlive(tr)
	tr = nil
	runtime.GC()
	runtime.ReadMemStats(&freed)
	tr = fill()
	perTenant := float64(int64(full.HeapAlloc)-int64(freed.HeapAlloc)) / float64(len(ids))
	b.ReportAllocs()
	for b.Loop() {
		for _, id := range ids {
			if _, ok := tr.Counts(id); !ok {
				b.Fatal(id)
			}
			if len(tr.Credentials(id)) != 1 {
				b.Fatal(id)
			}
		}
	}
	b.ReportMetric(perTenant, "B/tenant")
}
