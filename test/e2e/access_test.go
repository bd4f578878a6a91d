package e2e

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// accessAnomalies returns, per tenant, the features of its _governance
// anomaly records, and the records' observed and expected values by their
// top feature.
func (c *collector) accessAnomalies(t *testing.T) (features map[string][]string, observed, expected map[string]float64) {
	t.Helper()
	features, observed, expected = map[string][]string{}, map[string]float64{}, map[string]float64{}
	for _, lr := range c.anomalyRecords(t) {
		a := lr.Attributes()
		tn, _ := a.Get("anomaly.tenant.id")
		fs, _ := a.Get("anomaly.features")
		for _, f := range fs.Slice().AsRaw() {
			features[tn.Str()] = append(features[tn.Str()], f.(string))
		}
		top, _ := a.Get("anomaly.feature")
		obs, _ := a.Get("anomaly.observed")
		exp, _ := a.Get("anomaly.expected")
		observed[tn.Str()+" "+top.Str()], expected[tn.Str()+" "+top.Str()] = obs.Double(), exp.Double()
	}
	return features, observed, expected
}

// clientFrom returns an HTTP client whose connections leave from ip (any
// 127.0.0.0/8 address is local on Linux).
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// Access patterns: acme suffers a burst of failed authentications (wrong
// keys claiming acme in the tenant header) and then logs in from a client
// address it never used; both are _governance records with what was
// observed and expected. globex sends the whole time from its usual address
// and has none. The signal detectors are still in probation throughout, so
// every record is an access rule's.
func TestEndToEndAccessAnomalies(t *testing.T) {
	cfg := strings.Replace(anomalyConfig, "reload_interval: 200ms}", "reload_interval: 200ms, access: {learning_period: 3s}}", 1)
	require.NotEqual(t, anomalyConfig, cfg)
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(cfg, "{{CHECKPOINT}}", "1h"))
	// Both tenants' usual address is learnt, and the learning period ends.
	c.feedIntervals(t, 3, steady("acme", "globex"))

	c.feedIntervals(t, 1, func(int) map[string]int {
		for range 25 {
			require.Equal(t, http.StatusUnauthorized, c.postHTTP(t, "logs", newPayload("m-access", ""),
				map[string]string{"X-API-Key": "guessed-key-00000000000001", "X-Scope-OrgID": "acme"}))
		}
		return steady("acme", "globex")(0)
	})
	waitFor(t, "acme's authentication-failure record", 3*anomalyInterval, func() bool {
		f, _, _ := c.accessAnomalies(t)
		return len(f["acme"]) > 0
	})

	c.feedIntervals(t, 1, func(int) map[string]int {
		p := newPayload("m-access", "")
		require.Equal(t, http.StatusOK, c.postHTTPVia(t, clientFrom("127.0.0.2"), "logs", p, map[string]string{"X-API-Key": demoKeys["acme"]}))
		return steady("globex")(0)
	})
	waitFor(t, "acme's new-address record", 3*anomalyInterval, func() bool {
		f, _, _ := c.accessAnomalies(t)
		return len(f["acme"]) > 1
	})
	c.feedIntervals(t, 1, steady("acme", "globex"))

	features, observed, expected := c.accessAnomalies(t)
	assert.Equal(t, map[string][]string{"acme": {"access.auth_failures", "access.new_addresses"}}, features,
		"acme's burst and new address, nothing for the quiet globex")
	assert.Equal(t, 25.0, observed["acme access.auth_failures"])
	assert.Equal(t, 0.0, expected["acme access.auth_failures"], "acme never failed before")
	assert.Equal(t, 1.0, observed["acme access.new_addresses"])
	assert.Equal(t, 0.0, expected["acme access.new_addresses"])
	gov := strings.Join(c.lines(t, "_governance", "logs"), "\n")
	assert.NotContains(t, gov, "guessed-key", "a presented key never reaches a record")
}

// TestEndToEndAccessStoreReads: a burst of `tenancyctl query` on acme's
// store, which the router's local store finds in acme's audit log and the
// tenantpolicy extension counts, is an access.store_reads _governance
// record for acme; globex, whose store the collector only writes, has
// none. The signal detectors are in probation throughout.
func TestEndToEndAccessStoreReads(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // inherited by the collector
	cfg := strings.Replace(anomalyConfig, "    checkpoint_interval: {{CHECKPOINT}}\n",
		"    checkpoint_interval: 1h\n    access: {store_read_burst: 3}\n", 1)
	cfg = strings.Replace(cfg, "  tenantfile: {directory: \"{{DATA}}\"}\n",
		"  tenantfile: {directory: \"{{DATA}}\"}\n  tenantrouter: {backends: {local: {type: localstore, directory: \"{{DIR}}/store\", anchor_interval: 300ms}}}\n", 1)
	cfg = strings.Replace(cfg, "exporters: [tenantfile, tenantanomaly]}", "exporters: [tenantfile, tenantrouter, tenantanomaly]}", 1)
	require.Equal(t, 3, strings.Count(cfg, "tenantrouter")+strings.Count(cfg, "store_read_burst"), "the config edits took")
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), cfg)
	store := filepath.Join(c.dir, "store")
	c.feedIntervals(t, 2, steady("acme", "globex"))
	waitFor(t, "acme's store", 5*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(store, "acme", "data.db"))
		return err == nil
	})

	c.feedIntervals(t, 1, func(int) map[string]int {
		for range 8 {
			code, out := ctl(t, "query", "--data", store, "--tenant", "acme", "SELECT count(*) FROM logs")
			require.Equal(t, 0, code, out)
		}
		return steady("acme", "globex")(0)
	})
	waitFor(t, "acme's store-read record", 3*anomalyInterval, func() bool {
		f, _, _ := c.accessAnomalies(t)
		return len(f["acme"]) > 0
	})
	c.feedIntervals(t, 1, steady("acme", "globex"))

	features, observed, expected := c.accessAnomalies(t)
	require.Contains(t, features, "acme")
	for _, f := range features["acme"] {
		assert.Equal(t, "access.store_reads", f, "acme's queries, and nothing else")
	}
	assert.NotContains(t, features, "globex", "the quiet tenant, whose store the collector writes, has none")
	assert.GreaterOrEqual(t, observed["acme access.store_reads"], 3.0)
	assert.LessOrEqual(t, observed["acme access.store_reads"], 8.0)
	assert.Less(t, expected["acme access.store_reads"], 1.0, "acme's store was hardly read before")
	var readers []any
	for _, lr := range c.anomalyRecords(t) {
		if v, ok := lr.Attributes().Get("anomaly.store_readers"); ok {
			readers = append(readers, v.Slice().AsRaw()...)
		}
	}
	require.NotEmpty(t, readers, "the record says who read")
	for _, r := range readers {
		assert.True(t, strings.HasPrefix(r.(string), "tenancyctl:"), "%v is tenancyctl's actor", r)
	}
}
