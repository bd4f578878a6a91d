package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
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

// startTier runs the collector on one of the shipped configs (config/*.yaml,
// or a config at an absolute path) with env, as make run-scaleout does.
func startTier(t *testing.T, config string, env ...string) *collector {
	t.Helper()
	path := config
	if !filepath.IsAbs(config) {
		var err error
		path, err = filepath.Abs(filepath.Join("..", "..", "config", config))
		require.NoError(t, err)
	}
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

// scaleOut is a running two-tier deployment from the shipped configs.
type scaleOut struct {
	broker string
	dir    string
	ids    []string
	keys   map[string]string
	stores []string // each processing instance's TENANCY_DATA_DIR
	procs  []*collector
	edges  []*collector
}

// startScaleOut starts edges edge and processing collectors, as make
// run-scaleout does, around the broker at broker, for tenants tenants;
// procEnv is more environment for the processing collectors.
func startScaleOut(t *testing.T, broker string, tenants, processing, edge int, procEnv ...string) *scaleOut {
	t.Helper()
	so := &scaleOut{broker: broker, dir: t.TempDir()}
	ids, keys, policyYAML := scaleoutTenants(tenants)
	so.ids, so.keys = ids, keys
	policyPath := filepath.Join(so.dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(policyPath, []byte(policyYAML), 0o600))
	common := []string{"TENANCY_POLICY=" + policyPath, "TENANCY_KAFKA_BROKERS=" + broker}
	for i := range processing {
		store := filepath.Join(so.dir, fmt.Sprintf("processing%d", i), "tenants")
		so.stores = append(so.stores, store)
		env := append(append([]string{}, common...), "TENANCY_MASTER_KEY="+routerMasterKey, "TENANCY_DATA_DIR="+store)
		so.procs = append(so.procs, startTier(t, "processing.yaml", append(env, procEnv...)...))
	}
	for range edge {
		so.startEdge(t, "edge.yaml")
	}
	return so
}

// startEdge starts one more edge collector on config.
func (so *scaleOut) startEdge(t *testing.T, config string) {
	t.Helper()
	grpcAddr, httpAddr := peertest.FreeAddr(t), peertest.FreeAddr(t)
	e := startTier(t, config, "TENANCY_POLICY="+filepath.Join(so.dir, "tenants.yaml"), "TENANCY_KAFKA_BROKERS="+so.broker,
		"TENANCY_EDGE_STATE="+filepath.Join(so.dir, fmt.Sprintf("edge%d", len(so.edges))),
		"TENANCY_OTLP_GRPC_ENDPOINT="+grpcAddr, "TENANCY_OTLP_HTTP_ENDPOINT="+httpAddr)
	e.grpcAddr, e.httpAddr = grpcAddr, httpAddr
	so.edges = append(so.edges, e)
}

// stored counts, by store and resource marker, the rows the processing
// instances have written so far (a store being created answers with an
// error, read as nothing yet).
func (so *scaleOut) stored(t *testing.T) map[string]map[string]int {
	t.Helper()
	return storedIn(t, so.stores...)
}

// storedIn is stored for the stores at dirs.
func storedIn(t *testing.T, dirs ...string) map[string]map[string]int {
	t.Helper()
	key, err := localstore.ParseKey(routerMasterKey)
	require.NoError(t, err)
	out := map[string]map[string]int{}
	for _, dir := range dirs {
		st, err := localstore.Open(dir, key)
		if err != nil {
			continue
		}
		names, _ := st.Tenants()
		for _, name := range names {
			for _, table := range []string{"logs", "datapoints", "spans"} {
				res, err := st.Query(context.Background(), name, "SELECT resource FROM "+table, localstore.QueryOptions{Actor: "e2e"}, "")
				if err != nil {
					continue
				}
				for _, r := range res.Rows {
					if out[name] == nil {
						out[name] = map[string]int{}
					}
					res, _ := r[0].(string)
					out[name][resourceMarker(res)]++
				}
			}
		}
		st.Close()
	}
	return out
}

// resourceMarker is the marker attribute of a stored resource (JSON).
// markerRound is the round of a stored record's marker (tenant-round),
// false for a row that is not the load's: a _governance record (an
// anomaly, a quarantine) has no marker of the tenant's.
func markerRound(id, m string) (int, bool) {
	rest, ok := strings.CutPrefix(m, id+"-")
	if !ok {
		return 0, false
	}
	var r int
	_, err := fmt.Sscanf(rest, "%d", &r)
	return r, err == nil
}

func resourceMarker(res string) string {
	_, after, ok := strings.Cut(res, `"marker":"`)
	if !ok {
		return ""
	}
	m, _, _ := strings.Cut(after, `"`)
	return m
}

// TestEndToEndScaleOut runs the two tiers as make run-scaleout does, from
// the shipped configs and built binaries only: the kfake broker, two edge
// and two processing collectors, twenty tenants. Every record arrives in
// its own tenant's store (one of the two processing instances'), none in
// another's; a spoof through the edge and a record forged straight into a
// tenant's topic are both quarantined as spoofed.
func TestEndToEndScaleOut(t *testing.T) {
	so := startScaleOut(t, peertest.StartKafka(t), 20, 2, 2)
	broker, ids, keys, edges := so.broker, so.ids, so.keys, so.edges

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

	// settled: every tenant's store holds at least want rows and
	// _quarantine at least quarantined.
	settled := func(want, quarantined int) bool {
		count := map[string]int{}
		for store, markers := range so.stored(t) {
			for _, n := range markers {
				count[store] += n
			}
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
		for _, s := range so.stores {
			for _, r := range readAllStores(t, s) {
				by[r.store] = append(by[r.store], r)
			}
		}
		return by
	}
	markerOf := func(r storedRow) string {
		res, _ := r.cols["resource"].(string)
		return resourceMarker(res)
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

// TestEndToEndScaleOutBrokerOutage stops the broker for 30 s while the
// edges take load: each edge answers from its journal, holds what it
// acknowledged, and delivers it once the broker is back (on its address,
// with its data); every acknowledged record is then in its tenant's store,
// 0 lost, duplicates counted.
func TestEndToEndScaleOutBrokerOutage(t *testing.T) {
	broker, kafkaDir := peertest.FreeAddr(t), t.TempDir()
	kafka := peertest.StartKafkaAt(t, broker, "-data-dir", kafkaDir)
	so := startScaleOut(t, broker, 4, 1, 2)

	l := &scaleOutLoad{t: t, so: so, acked: map[string][]string{}}
	load := l.run
	load(3 * time.Second)
	kafka.Stop()
	outageStart := l.round
	load(30 * time.Second)
	duringOutage := l.ackedSince(outageStart)
	require.Positive(t, duringOutage, "the edges acknowledged nothing while the broker was down")
	peertest.StartKafkaAt(t, broker, "-data-dir", kafkaDir)
	load(3 * time.Second)

	total, dups := l.settle(2 * time.Minute)
	t.Logf("broker outage: %d records acknowledged (%d while the broker was down), %d refused (retryable), 0 lost, %d duplicates", total, duringOutage, l.refused, dups)
}

// scaleOutLoad sends each tenant's logs through the edges, round after
// round, and remembers what the edges acknowledged.
type scaleOutLoad struct {
	t       *testing.T
	so      *scaleOut
	round   int
	acked   map[string][]string // tenant -> markers the edge answered 200 for
	refused int
}

func (l *scaleOutLoad) run(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); l.round++ {
		for n, id := range l.so.ids {
			marker := fmt.Sprintf("%s-%d", id, l.round)
			if l.so.edges[(n+l.round)%len(l.so.edges)].postHTTP(l.t, "logs", scaleoutPayload(marker, ""), map[string]string{"X-API-Key": l.so.keys[id]}) == 200 {
				l.acked[id] = append(l.acked[id], marker)
			} else {
				l.refused++
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ackedSince counts the records acknowledged from round on.
func (l *scaleOutLoad) ackedSince(round int) int {
	n := 0
	for id, markers := range l.acked {
		for _, m := range markers {
			var r int
			_, _ = fmt.Sscanf(m[len(id)+1:], "%d", &r)
			if r >= round {
				n++
			}
		}
	}
	return n
}

// settle waits until every acknowledged record is in its tenant's store
// and none is in another's, and returns how many were acknowledged and
// how many stored twice or more (at least once allows them).
func (l *scaleOutLoad) settle(timeout time.Duration) (total, dups int) {
	t := l.t
	var stored map[string]map[string]int
	waitFor(t, "every acknowledged record in its tenant's store", timeout, func() bool {
		stored = l.so.stored(t)
		for id, markers := range l.acked {
			for _, m := range markers {
				if stored[id][m] == 0 {
					return false
				}
			}
		}
		return true
	})
	for id, markers := range l.acked {
		total += len(markers)
		for _, m := range markers {
			dups += stored[id][m] - 1
		}
		for m := range stored[id] {
			assert.True(t, strings.HasPrefix(m, id+"-"), "store %s holds %q", id, m)
		}
	}
	return total, dups
}

// policyTenants counts the stores of policy tenants (not _quarantine or
// _governance).
func policyTenants(stored map[string]map[string]int) int {
	n := 0
	for id := range stored {
		if !strings.HasPrefix(id, "_") {
			n++
		}
	}
	return n
}

// TestEndToEndScaleOutFailover kills one processing collector (kill -9)
// under load and never starts it again: the other takes its partitions
// within the group's session timeout and stores the moved tenants' new
// records; every record an edge acknowledged ends in a store (the killed
// instance's, for what it stored before it died), 0 lost, duplicates
// counted: an offset is committed only once the store has the batch
// (wait_for_delivery), so nothing committed was only in the dead process.
// The moved tenants' baselines come along (tenancy._baselines): a spike
// of one of them after the failover is flagged by the survivor, whose
// anomaly record says its baseline learnt more intervals than have passed
// since the kill: no new probation.
func TestEndToEndScaleOutFailover(t *testing.T) {
	const probation = 10
	so := startScaleOut(t, peertest.StartKafka(t), 6, 2, 1,
		"TENANCY_ANOMALY_INTERVAL=1s", fmt.Sprintf("TENANCY_ANOMALY_PROBATION=%d", probation), "TENANCY_ANOMALY_CHECKPOINT_INTERVAL=1s")
	l := &scaleOutLoad{t: t, so: so, acked: map[string][]string{}}
	// Until both instances hold tenants: the group has spread the topics.
	waitFor(t, "both processing instances storing", time.Minute, func() bool {
		l.run(time.Second)
		return policyTenants(storedIn(t, so.stores[0])) > 0 && policyTenants(storedIn(t, so.stores[1])) > 0
	})
	// Long enough for the baselines to pass their probation, and to be
	// older at the spike than the time since the kill.
	l.run(3 * probation * time.Second)
	// The tenants the victim holds now: it stored their last rounds.
	recent := l.round - 3
	var moved []string
	for id, markers := range storedIn(t, so.stores[0]) {
		for m := range markers {
			if r, ok := markerRound(id, m); ok && r >= recent && !slices.Contains(moved, id) {
				moved = append(moved, id)
			}
		}
	}
	require.NotEmpty(t, moved)
	victim := so.procs[0]
	require.NoError(t, victim.cmd.Process.Kill())
	<-victim.exited
	victim.exited = nil
	killedAt, killed := l.round, time.Now()

	// The survivor stores records of every moved tenant sent after the kill.
	var tookOver time.Duration
	waitFor(t, "the survivor storing the moved tenants' new records", time.Minute, func() bool {
		l.run(time.Second)
		got := storedIn(t, so.stores[1])
		for _, id := range moved {
			found := false
			for m := range got[id] {
				r, ok := markerRound(id, m)
				found = found || (ok && r >= killedAt)
			}
			if !found {
				return false
			}
		}
		tookOver = time.Since(killed)
		return true
	})
	l.run(3 * time.Second)

	// A spike of one moved tenant: 500 records in one request.
	spiked := moved[0]
	spike := scaleoutPayload(spiked+"-spike", "")
	lrs := spike.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 1; i < 500; i++ {
		lrs.At(0).CopyTo(lrs.AppendEmpty())
	}
	spikeAt := time.Now()
	// On a failure, what the survivor flagged for the tenant and when: the
	// alarms around the takeover explain a spike not flagged.
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range anomalyRecords(t, so.stores[1], spiked) {
				t.Logf("survivor's anomaly record for %s (spike sent %s): %v", spiked, spikeAt.Format(time.RFC3339Nano), r)
			}
		}
	})
	require.Equal(t, 200, so.edges[0].postHTTP(t, "logs", spike, map[string]string{"X-API-Key": so.keys[spiked]}))
	var record map[string]any
	waitFor(t, "the survivor's anomaly record of the spike", time.Minute, func() bool {
		l.run(time.Second)
		record = anomalyRecordAfter(t, so.stores[1], spiked, spikeAt)
		return record != nil
	})
	sinceKill := time.Since(killed)
	points, _ := record["anomaly.baseline_points"].(float64)
	assert.Greater(t, points, float64(probation), "flagged after the probation: %v", record)
	assert.Greater(t, points, sinceKill.Seconds()+1, "the baseline learnt more 1 s intervals than have passed since the kill (%s): it is the killed member's, continued", sinceKill.Round(time.Second))

	total, dups := l.settle(2 * time.Minute)
	t.Logf("failover: moved tenants %v stored by the survivor %s after kill -9 (session timeout 10s); the killed collector never restarted; %d records acknowledged, %d refused, 0 lost, %d duplicates; %s's spike flagged by the survivor %s after the kill with a baseline of %.0f intervals (probation %d)",
		moved, tookOver.Round(time.Second), total, l.refused, dups, spiked, sinceKill.Round(time.Second), points, probation)
}

// anomalyRecordAfter is the attributes of an anomaly record in the
// _governance store under dir that flags tenant's log records for an
// interval that ended after after; nil when there is none yet.
func anomalyRecordAfter(t *testing.T, dir, tenant string, after time.Time) map[string]any {
	t.Helper()
	for _, attrs := range anomalyRecords(t, dir, tenant) {
		if attrs["anomaly.feature"] != "logs.records" {
			continue
		}
		end, _ := attrs["anomaly.interval_end"].(string)
		if e, err := time.Parse(time.RFC3339Nano, end); err == nil && e.After(after) {
			return attrs
		}
	}
	return nil
}

// anomalyRecords is the attributes of the anomaly records in the
// _governance store under dir that flag tenant, in the store's order;
// none when the store cannot be read yet.
func anomalyRecords(t *testing.T, dir, tenant string) []map[string]any {
	t.Helper()
	key, err := localstore.ParseKey(routerMasterKey)
	require.NoError(t, err)
	st, err := localstore.Open(dir, key)
	if err != nil {
		return nil
	}
	defer st.Close()
	res, err := st.Query(context.Background(), "_governance", "SELECT attrs FROM logs", localstore.QueryOptions{Actor: "e2e"}, "")
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, r := range res.Rows {
		s, _ := r[0].(string)
		var attrs map[string]any
		if json.Unmarshal([]byte(s), &attrs) == nil && attrs["anomaly.tenant.id"] == tenant {
			out = append(out, attrs)
		}
	}
	return out
}

// TestEndToEndScaleOutSpread: an edge that spreads tenant00 over 4 shards
// (kafka.spread) gives its topic 4 partitions, which the group deals to
// both processing collectors: each stores part of tenant00's records, and
// together all of them, once each; the other tenants stay whole on one.
func TestEndToEndScaleOutSpread(t *testing.T) {
	so := startScaleOut(t, peertest.StartKafka(t), 3, 2, 0)
	edgeYAML, err := os.ReadFile(filepath.Join("..", "..", "config", "edge.yaml"))
	require.NoError(t, err)
	spreadYAML := strings.Replace(string(edgeYAML), "          idempotent: true\n", "          idempotent: true\n          spread: {tenant00: 4}\n", 1)
	require.NotEqual(t, string(edgeYAML), spreadYAML)
	config := filepath.Join(so.dir, "edge-spread.yaml")
	require.NoError(t, os.WriteFile(config, []byte(spreadYAML), 0o600))
	so.startEdge(t, config)

	l := &scaleOutLoad{t: t, so: so, acked: map[string][]string{}}
	waitFor(t, "tenant00's records in both processing collectors' stores", time.Minute, func() bool {
		l.run(time.Second)
		return len(storedIn(t, so.stores[0])["tenant00"]) > 0 && len(storedIn(t, so.stores[1])["tenant00"]) > 0
	})
	// The group has dealt the partitions; from here on each member reads
	// its own.
	from := l.round
	l.run(5 * time.Second)
	total, dups := l.settle(time.Minute)
	// since counts, per store, tenant's records of the rounds from from.
	since := func(tenant string) (counts [2]int) {
		for i, store := range so.stores {
			for m, n := range storedIn(t, store)[tenant] {
				var r int
				if _, err := fmt.Sscanf(m[len(tenant)+1:], "%d", &r); err == nil && r >= from {
					counts[i] += n
				}
			}
		}
		return counts
	}
	spread := since("tenant00")
	assert.Positive(t, spread[0], "shards of tenant00 on the first member")
	assert.Positive(t, spread[1], "shards of tenant00 on the second member")
	for _, id := range []string{"tenant01", "tenant02"} {
		c := since(id)
		assert.True(t, c[0] == 0 || c[1] == 0, "%s is not spread: one member stores it, found %v", id, c)
	}
	t.Logf("spread: tenant00's records of the last %d rounds stored %d / %d by the two processing collectors; %d records acknowledged, 0 lost, %d duplicates",
		l.round-from, spread[0], spread[1], total, dups)
}
