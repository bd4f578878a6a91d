package e2e

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// anomalyConfig runs the tenantanomaly connector on 2s intervals with a
// short probation, keeping baselines in file_storage under the test's dir;
// its records reach the file exporter through their own logs pipeline.
// {{CHECKPOINT}} is filled in per test.
const anomalyConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
  file_storage: {directory: "{{DIR}}/state", create_directory: true}
receivers:
  otlp:
    protocols:
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
connectors:
  tenantanomaly:
    fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"
    interval: 2s
    probation: 8
    storage: file_storage
    checkpoint_interval: {{CHECKPOINT}}
exporters:
  tenantfile: {directory: "{{DATA}}"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check, file_storage]
  pipelines:
    logs: {receivers: [otlp], processors: [tenant], exporters: [tenantfile, tenantanomaly]}
    metrics: {receivers: [otlp], processors: [tenant], exporters: [tenantfile, tenantanomaly]}
    traces: {receivers: [otlp], processors: [tenant], exporters: [tenantfile, tenantanomaly]}
    logs/governance: {receivers: [tenantanomaly], exporters: [tenantfile]}
`

// sendVolume sends n log records of one tenant, authenticated with its demo
// key, in one request.
func (c *collector) sendVolume(t *testing.T, tenant string, n int) {
	t.Helper()
	c.sendSignal(t, "logs", tenant, n)
}

// sendSignal sends n records of one signal (log records, data points of
// one gauge, or spans of 10 ms) of one tenant, authenticated with its demo
// key, in one request. The same n gives the same bytes every time.
func (c *collector) sendSignal(t *testing.T, signal, tenant string, n int) {
	t.Helper()
	p := newPayload("m-anomaly", "")
	switch signal {
	case "logs":
		lrs := p.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := 1; i < n; i++ {
			lrs.At(0).CopyTo(lrs.AppendEmpty())
		}
	case "metrics":
		dps := p.metrics.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
		for i := 1; i < n; i++ {
			dps.At(0).CopyTo(dps.AppendEmpty())
		}
	case "traces":
		spans := p.traces.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
		spans.At(0).SetStartTimestamp(1_000_000_000)
		spans.At(0).SetEndTimestamp(1_010_000_000)
		for i := 1; i < n; i++ {
			spans.At(0).CopyTo(spans.AppendEmpty())
		}
	}
	require.Equal(t, http.StatusOK, c.postHTTP(t, signal, p, map[string]string{"X-API-Key": demoKeys[tenant]}))
}

// anomalyInterval is the connector's interval in anomalyConfig.
const anomalyInterval = 2 * time.Second

// feedIntervals sends, in each of k intervals, the volumes that volumes(i)
// gives per tenant. Requests go in the middle of the interval (the
// connector's intervals are aligned to the wall clock), so a late timer on
// either side, on a loaded machine, still leaves a steady tenant's counts
// exactly steady.
func (c *collector) feedIntervals(t *testing.T, k int, volumes func(i int) map[string]int) {
	t.Helper()
	c.feedSignal(t, "logs", k, volumes)
}

// feedSignal is feedIntervals for one signal (sendSignal's).
func (c *collector) feedSignal(t *testing.T, signal string, k int, volumes func(i int) map[string]int) {
	t.Helper()
	midIntervals(k, func(i int) {
		v := volumes(i)
		tenants := make([]string, 0, len(v))
		for tn := range v {
			tenants = append(tenants, tn)
		}
		sort.Strings(tenants)
		for _, tn := range tenants {
			c.sendSignal(t, signal, tn, v[tn])
		}
	})
}

// midIntervals calls send in the middle of each of the next k intervals.
func midIntervals(k int, send func(i int)) {
	for i := range k {
		now := time.Now()
		time.Sleep(now.Truncate(anomalyInterval).Add(anomalyInterval + anomalyInterval/2).Sub(now))
		send(i)
	}
}

func steady(tenants ...string) func(int) map[string]int {
	return func(int) map[string]int {
		v := map[string]int{}
		for _, tn := range tenants {
			v[tn] = 20
		}
		return v
	}
}

// anomalyRecords returns the _governance log records.
func (c *collector) anomalyRecords(t *testing.T) []plog.LogRecord {
	t.Helper()
	var out []plog.LogRecord
	var u plog.JSONUnmarshaler
	for _, line := range c.lines(t, "_governance", "logs") {
		ld, err := u.UnmarshalLogs([]byte(line))
		require.NoError(t, err)
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

// anomalies returns anomaly.tenant.id of every _governance record.
func (c *collector) anomalies(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, lr := range c.anomalyRecords(t) {
		v, _ := lr.Attributes().Get("anomaly.tenant.id")
		out = append(out, v.AsString())
	}
	return out
}

func TestEndToEndAnomalySpike(t *testing.T) {
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(anomalyConfig, "{{CHECKPOINT}}", "0s"))
	c.feedIntervals(t, 11, steady("acme", "globex", "initech"))
	require.Empty(t, c.anomalies(t), "a steady baseline is not an anomaly")

	c.feedIntervals(t, 3, func(i int) map[string]int {
		v := steady("acme", "globex", "initech")(i)
		if i == 0 {
			v["acme"] = 400
		}
		return v
	})
	waitFor(t, "acme's anomaly record in _governance/logs.jsonl", 4*anomalyInterval, func() bool {
		return len(c.anomalies(t)) > 0
	})
	for _, tn := range c.anomalies(t) {
		assert.Equal(t, "acme", tn, "only acme spiked")
	}
	gov := strings.Join(c.lines(t, "_governance", "logs"), "\n")
	assert.True(t, containsAll(gov, `"anomaly.feature"`, `"anomaly.score"`, `"anomaly.tenant.fingerprint"`, `"anomaly.interval_start"`, `"severityText":"WARN"`), gov)
	assert.NotContains(t, strings.Join(c.lines(t, "acme", "logs"), "\n"), "anomaly.tenant.id", "anomaly records stay in _governance")
}

// Metrics and traces are watched like logs: after a steady baseline of
// data points (spans) from three tenants, one tenant's twentyfold spike
// gives one _governance record for that tenant, on that signal's features
// only, and none for the others. One collector per signal, side by side.
func TestEndToEndAnomalySpikeMetricsTraces(t *testing.T) {
	for _, tc := range []struct{ signal, spiker string }{{"metrics", "globex"}, {"traces", "initech"}} {
		t.Run(tc.signal, func(t *testing.T) {
			t.Parallel()
			c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(anomalyConfig, "{{CHECKPOINT}}", "1h"))
			c.feedSignal(t, tc.signal, 11, steady("acme", "globex", "initech"))
			require.Empty(t, c.anomalies(t), "a steady baseline is not an anomaly")

			c.feedSignal(t, tc.signal, 3, func(i int) map[string]int {
				v := steady("acme", "globex", "initech")(i)
				if i == 0 {
					v[tc.spiker] = 400
				}
				return v
			})
			waitFor(t, tc.spiker+"'s anomaly record in _governance/logs.jsonl", 4*anomalyInterval, func() bool {
				return len(c.anomalies(t)) > 0
			})
			for _, lr := range c.anomalyRecords(t) {
				t.Log(lr.Body().Str())
				a := lr.Attributes()
				tn, _ := a.Get("anomaly.tenant.id")
				assert.Equal(t, tc.spiker, tn.AsString(), "only %s spiked", tc.spiker)
				top, _ := a.Get("anomaly.feature")
				assert.True(t, strings.HasPrefix(top.AsString(), tc.signal+"."), "anomaly.feature %q", top.AsString())
				all, _ := a.Get("anomaly.features")
				for _, f := range all.Slice().AsRaw() {
					assert.True(t, strings.HasPrefix(f.(string), tc.signal+"."), "anomaly.features has %v", f)
				}
				obs, _ := a.Get("anomaly.observed")
				exp, _ := a.Get("anomaly.expected")
				assert.Greater(t, obs.Double(), exp.Double(), "a spike is above its baseline")
			}
		})
	}
}

// sendShape sends one tenant's interval of a configured metric and of two
// services: a delta histogram of e2e.request.duration (100 requests,
// slowMetric moves 10 of them from 50-100 ms to 2.5-5 s) and spans of
// "web" (20 of 10 ms) and "ledger" (4 of 5 ms, or of 2 s with
// slowLedger).
func (c *collector) sendShape(t *testing.T, tenant string, slowMetric, slowLedger bool) {
	t.Helper()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "web")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("e2e.request.duration")
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := h.DataPoints().AppendEmpty()
	dp.ExplicitBounds().FromRaw([]float64{0.01, 0.05, 0.1, 0.5, 1, 2.5, 5})
	counts := []uint64{10, 60, 30, 0, 0, 0, 0, 0}
	if slowMetric {
		counts[2], counts[6] = 20, 10
	}
	dp.BucketCounts().FromRaw(counts)
	dp.SetCount(100)
	headers := map[string]string{"X-API-Key": demoKeys[tenant]}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "metrics", payload{metrics: md}, headers))

	td := ptrace.NewTraces()
	for _, svc := range []struct {
		name string
		n    int
		d    time.Duration
	}{{"web", 20, 10 * time.Millisecond}, {"ledger", 4, 5 * time.Millisecond}} {
		if svc.name == "ledger" && slowLedger {
			svc.d = 2 * time.Second
		}
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc.name)
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for range svc.n {
			sp := spans.AppendEmpty()
			sp.SetName("GET /")
			sp.SetTraceID([16]byte{1})
			sp.SetSpanID([8]byte{1})
			sp.SetStartTimestamp(1_000_000_000)
			sp.SetEndTimestamp(1_000_000_000 + pcommon.Timestamp(svc.d))
		}
	}
	require.Equal(t, http.StatusOK, c.postHTTP(t, "traces", payload{traces: td}, headers))
}

// Values, not only volumes: with metrics: [e2e.request.duration] and
// max_services, acme's requests get slower (same points, same volume) and
// globex's small ledger service gets slow beside its busy web service;
// each gets one record naming that metric's or that service's feature,
// initech none.
func TestEndToEndAnomalyMetricValuesAndServices(t *testing.T) {
	cfg := strings.Replace(anomalyConfig, "    probation: 8\n", "    probation: 8\n    metrics: [e2e.request.duration]\n    max_services: 4\n", 1)
	require.NotEqual(t, anomalyConfig, cfg)
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(cfg, "{{CHECKPOINT}}", "1h"))
	tenants := []string{"acme", "globex", "initech"}
	midIntervals(11, func(int) {
		for _, tn := range tenants {
			c.sendShape(t, tn, false, false)
		}
	})
	require.Empty(t, c.anomalies(t), "a steady baseline is not an anomaly")

	midIntervals(3, func(i int) {
		for _, tn := range tenants {
			c.sendShape(t, tn, i == 0 && tn == "acme", i == 0 && tn == "globex")
		}
	})
	waitFor(t, "acme's and globex's anomaly records", 4*anomalyInterval, func() bool {
		return len(c.anomalies(t)) >= 2
	})
	features := map[string][]any{}
	for _, lr := range c.anomalyRecords(t) {
		t.Log(lr.Body().Str())
		a := lr.Attributes()
		tn, _ := a.Get("anomaly.tenant.id")
		all, _ := a.Get("anomaly.features")
		features[tn.AsString()] = append(features[tn.AsString()], all.Slice().AsRaw()...)
	}
	assert.Len(t, features, 2, "acme and globex only: %v", features)
	assert.Contains(t, features["acme"], "metrics.value.e2e.request.duration.p99")
	assert.Contains(t, features["globex"], "traces.service.ledger.latency_p50")
	for _, f := range features["globex"] {
		assert.NotContains(t, f, "traces.service.web.", "web stayed as it was")
	}
}

// The baseline learnt before a restart is restored from file_storage: a
// spike two intervals after the restart is flagged, which a fresh detector
// (probation 8) could not do. checkpoint_interval is long, so only the
// save at shutdown can have kept it.
func TestEndToEndAnomalyBaselineSurvivesRestart(t *testing.T) {
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), strings.ReplaceAll(anomalyConfig, "{{CHECKPOINT}}", "1h"))
	c.feedIntervals(t, 14, steady("acme", "initech"))
	require.Empty(t, c.anomalies(t))

	c.stop()
	c.start(t)
	// 2 tenants x 6 log features.
	waitFor(t, "the restored baselines in the collector's log", 5*time.Second, func() bool {
		return strings.Contains(c.stderr.String(), `"tenants": 2, "series": 12`)
	})

	c.feedIntervals(t, 4, func(i int) map[string]int {
		v := steady("acme", "initech")(i)
		if i == 2 {
			v["acme"] = 400
		}
		return v
	})
	waitFor(t, "acme's anomaly record after the restart", 4*anomalyInterval, func() bool {
		return len(c.anomalies(t)) > 0
	})
	for _, tn := range c.anomalies(t) {
		assert.Equal(t, "acme", tn)
	}
}
