package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

// scaleoutTenants are the test's tenants, each with its own API key.
func scaleoutTenants(n int) (ids []string, keys map[string]string, policyYAML string) {
	keys = map[string]string{}
	var b strings.Builder
	b.WriteString("tenants:\n")
	for i := range n {
		id := fmt.Sprintf("tenant%02d", i)
		key := fmt.Sprintf("%s-scaleout-key-0001", id)
		sum := sha256.Sum256([]byte(key))
		fmt.Fprintf(&b, "  %s: {api_keys: [\"sha256:%s\"]}\n", id, hex.EncodeToString(sum[:]))
		ids, keys[id] = append(ids, id), key
	}
	return ids, keys, b.String()
}

// startTier runs the collector on one of the shipped configs (config/*.yaml)
// with env, as make run-scaleout does.
func startTier(t *testing.T, config string, env ...string) *collector {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("..", "..", "config", config))
	require.NoError(t, err)
	health := peertest.FreeAddr(t)
	_, metricsPort, _ := net.SplitHostPort(peertest.FreeAddr(t))
	c := &collector{configPath: path, healthAddr: health, stderr: &peertest.Output{},
		env: append(env, "TENANCY_HEALTH_ENDPOINT="+health, "TENANCY_METRICS_PORT="+metricsPort)}
	c.start(t)
	return c
}

// scaleoutPayload is newPayload with the resources marked and the records
// timed now, which the edge's retention filter keeps.
func scaleoutPayload(marker, claim string) payload {
	p := newPayload(marker, claim)
	now := pcommon.NewTimestampFromTime(time.Now())
	p.logs.ResourceLogs().At(0).Resource().Attributes().PutStr("marker", marker)
	p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).SetTimestamp(now)
	p.metrics.ResourceMetrics().At(0).Resource().Attributes().PutStr("marker", marker)
	p.metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0).SetTimestamp(now)
	p.traces.ResourceSpans().At(0).Resource().Attributes().PutStr("marker", marker)
	sp := p.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	sp.SetStartTimestamp(now)
	sp.SetEndTimestamp(now + 1000)
	return p
}

// TestEndToEndScaleOut runs the two tiers as make run-scaleout does, from
// the shipped configs and built binaries only: the kfake broker, two edge
// and two processing collectors, twenty tenants. Every record arrives in
// its own tenant's store (one of the two processing instances'), none in
// another's; a spoof through the edge and a record forged straight into a
// tenant's topic are both quarantined as spoofed.
func TestEndToEndScaleOut(t *testing.T) {
	broker := peertest.StartKafka(t)
	dir := t.TempDir()
	ids, keys, policyYAML := scaleoutTenants(20)
	policyPath := filepath.Join(dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(policyPath, []byte(policyYAML), 0o600))
	common := []string{"TENANCY_POLICY=" + policyPath, "TENANCY_KAFKA_BROKERS=" + broker}

	var stores []string
	for i := range 2 {
		store := filepath.Join(dir, fmt.Sprintf("processing%d", i), "tenants")
		stores = append(stores, store)
		startTier(t, "processing.yaml", append(common, "TENANCY_MASTER_KEY="+routerMasterKey, "TENANCY_DATA_DIR="+store,
			"TENANCY_PROCESSING_STATE="+filepath.Join(dir, fmt.Sprintf("processing%d", i), "state"))...)
	}
	var edges []*collector
	for i := range 2 {
		grpcAddr, httpAddr := peertest.FreeAddr(t), peertest.FreeAddr(t)
		e := startTier(t, "edge.yaml", append(common, "TENANCY_EDGE_STATE="+filepath.Join(dir, fmt.Sprintf("edge%d", i)),
			"TENANCY_OTLP_GRPC_ENDPOINT="+grpcAddr, "TENANCY_OTLP_HTTP_ENDPOINT="+httpAddr)...)
		e.grpcAddr, e.httpAddr = grpcAddr, httpAddr
		edges = append(edges, e)
	}

	// Each tenant sends each signal twice, once through each edge.
	for n, id := range ids {
		for round := range 2 {
			edge := edges[(n+round)%2]
			for _, sig := range signals {
				p := scaleoutPayload(fmt.Sprintf("%s-%d", id, round), "")
				require.Equal(t, 200, edge.postHTTP(t, sig, p, map[string]string{"X-API-Key": keys[id]}), "%s %s", id, sig)
			}
		}
	}
	// A spoof through the edge: tenant00's key, a resource claiming tenant01.
	require.Equal(t, 200, edges[1].postHTTP(t, "logs", scaleoutPayload("spoof-edge", "tenant01"), map[string]string{"X-API-Key": keys["tenant00"]}))

	// settled reports whether every tenant's store holds at least want
	// rows and _quarantine at least quarantined, reading whatever the
	// processing collectors have written so far (a store being created
	// answers with an error, read as not yet).
	settled := func(want, quarantined int) bool {
		count := map[string]int{}
		for _, dir := range stores {
			key, err := localstore.ParseKey(routerMasterKey)
			require.NoError(t, err)
			st, err := localstore.Open(dir, key)
			if err != nil {
				return false
			}
			names, _ := st.Tenants()
			for _, name := range names {
				for _, table := range []string{"logs", "datapoints", "spans"} {
					if res, err := st.Query(context.Background(), name, "SELECT id FROM "+table, localstore.QueryOptions{Actor: "e2e"}, ""); err == nil {
						count[name] += len(res.Rows)
					}
				}
			}
			st.Close()
		}
		for _, id := range ids {
			if count[id] < want {
				return false
			}
		}
		return count["_quarantine"] >= quarantined
	}
	rowsOf := func() map[string][]storedRow {
		by := map[string][]storedRow{}
		for _, s := range stores {
			if _, err := os.Stat(filepath.Join(s, "keyset.json")); err != nil {
				continue
			}
			for _, r := range readAllStores(t, s) {
				by[r.store] = append(by[r.store], r)
			}
		}
		return by
	}
	markerOf := func(r storedRow) string {
		res, _ := r.cols["resource"].(string)
		_, after, ok := strings.Cut(res, `"marker":"`)
		if !ok {
			return ""
		}
		m, _, _ := strings.Cut(after, `"`)
		return m
	}
	waitFor(t, "every tenant's 6 records and the edge spoof in the stores", 2*time.Minute, func() bool { return settled(6, 1) })

	// A record written straight into tenant02's topic claiming tenant03.
	forged := plog.NewLogs()
	rl := forged.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("tenant.id", "tenant03")
	rl.Resource().Attributes().PutStr("marker", "forged-in-topic")
	rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	body, err := plogotlp.NewExportRequestFromLogs(forged).MarshalProto()
	require.NoError(t, err)
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(contextWithTimeout(t), &kgo.Record{Topic: "tenancy.tenant02.logs", Key: []byte("tenant02"), Value: body}).FirstErr())
	waitFor(t, "the forged record quarantined", time.Minute, func() bool { return settled(6, 2) })

	by := rowsOf()
	for _, id := range ids {
		got := map[string]int{}
		for _, r := range by[id] {
			m := markerOf(r)
			assert.True(t, strings.HasPrefix(m, id+"-"), "store %s holds %q, another tenant's record", id, m)
			got[r.table]++
		}
		// At least once: a record may be read twice across a rebalance.
		for _, table := range []string{"logs", "datapoints", "spans"} {
			assert.GreaterOrEqual(t, got[table], 2, "%s %s", id, table)
		}
	}
	var quarantined []string
	for _, r := range by["_quarantine"] {
		res, _ := r.cols["resource"].(string)
		assert.Contains(t, res, `"tenant.quarantine.reason":"spoofed"`)
		quarantined = append(quarantined, markerOf(r))
		switch markerOf(r) {
		case "spoof-edge":
			assert.Contains(t, res, `"tenant.claimed":"tenant01"`)
			assert.Contains(t, res, `"tenant.authenticated":"tenant00"`)
		case "forged-in-topic":
			assert.Contains(t, res, `"tenant.claimed":"tenant03"`)
			assert.Contains(t, res, `"tenant.authenticated":"tenant02"`)
			assert.Contains(t, res, `"tenant.credential":"topic:tenancy.tenant02.logs"`)
		}
	}
	assert.ElementsMatch(t, []string{"spoof-edge", "forged-in-topic"}, dedupe(quarantined))
	for store := range by {
		assert.True(t, store == "_quarantine" || strings.HasPrefix(store, "tenant"), "unexpected store %s", store)
	}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
