package tenantanomalyconnector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/anomaly"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// Attributes of the anomaly records.
const (
	AttrTenantID    = identity.AttrAnomalyTenant
	AttrFingerprint = "anomaly.tenant.fingerprint"
	AttrFeature     = "anomaly.feature"
	AttrObserved    = "anomaly.observed"
	AttrExpected    = "anomaly.expected"
	AttrScore       = "anomaly.score"
	AttrFeatures    = "anomaly.features"
	AttrStart       = "anomaly.interval_start"
	AttrEnd         = "anomaly.interval_end"
	// AttrBaselinePoints is how many intervals the flagged feature's
	// baseline had learnt, this one included: above probation, and more
	// than this collector has run, when a baseline was taken over.
	AttrBaselinePoints = "anomaly.baseline_points"
	// AttrCredentials lists, on a record with access.spoofs or
	// access.credential_requests, the tenant's credentials (key ids) that
	// spoof attempts were made with or whose request rate burst.
	AttrCredentials = "anomaly.credentials"
	// AttrCredential is the credential the top finding concerns, when it
	// concerns one (access.credential_requests).
	AttrCredential = "anomaly.credential"
)

// tenantSeries is everything the connector keeps for one tenant: the open
// interval's accumulators and the detectors, per signal. Signals are
// allocated on the tenant's first record of that signal, so a tenant that
// only sends logs costs only the log features.
type tenantSeries struct {
	id          string
	fingerprint string

	mu     sync.Mutex
	sig    [signalCount]*signalSeries
	access accessState

	// With a baselines topic, claimed marks the signals whose stream this
	// member holds (baselines.go); claimMu orders a claim with a release.
	claimMu sync.Mutex
	claimed [signalCount]atomic.Bool
}

type signalSeries struct {
	acc accumulator
	det [featureCount]*anomaly.Detector // nil for features the signal lacks
	// score is the last score, for the metric only (float32: a score is
	// in [0,1], and the metric needs no more than 7 digits of it; with it
	// the struct stays in the 288 B size class beside the inline service
	// hashes).
	score [featureCount]float32
	// observed is the last closed interval's value, for the metric (as
	// float64: the metric is the record's anomaly.observed); NaN until one
	// closes after a start, and for an interval with nothing to measure.
	// The expected value the metric reports beside it is the detector's
	// own (Explain), so it costs no memory here.
	observed [featureCount]float64
	// claimedMidInterval: the stream came to this member during the open
	// interval, which holds only the records since; it is not scored.
	claimedMidInterval bool
}

func newSignalSeries() *signalSeries {
	ss := &signalSeries{}
	for f := range ss.observed {
		ss.observed[f] = math.NaN()
	}
	return ss
}

// signal returns the series of s, allocating it on first use; the caller
// holds t.mu.
func (t *tenantSeries) signal(s signal) *signalSeries {
	ss := t.sig[s]
	if ss == nil {
		ss = newSignalSeries()
		t.sig[s] = ss
	}
	return ss
}

// view is the policy in force as the hot path needs it: one map lookup
// from a tenant.id to the series of an enabled tenant.
type view struct {
	pol     *policy.Policy
	tenants map[string]viewEntry
}

type viewEntry struct {
	series      *tenantSeries
	sensitivity float64
}

// monitor is the state that every signal's instance of one tenantanomaly
// component id shares: one set of series per tenant, one ticker, one
// storage client, and the logs consumer the anomaly records go to. It is
// the component that internal/sharedcomponent starts and shuts down once.
type monitor struct {
	id        component.ID
	cfg       *Config
	secret    []byte
	logger    *zap.Logger
	now       func() time.Time
	manual    bool // tests drive flush themselves
	logsNext  consumer.Logs
	telemetry *metadata.TelemetryBuilder

	mu       sync.Mutex // guards the fields below and view rebuilds
	series   map[string]*tenantSeries
	provider policy.Provider
	// access serves the edge's per-tenant access counts, when the policy
	// extension counts them (the tenantpolicy extension does).
	access  access.Source
	started bool
	stop    chan struct{}
	done    chan struct{}
	client  storage.Client
	// baselines, when configured, keeps the baselines on a Kafka topic
	// instead of client, following the streams' partitions.
	baselines *kafkaBaselines

	view atomic.Pointer[view]

	flushMu sync.Mutex // one slice of a close, or a save, at a time
	// closeSlice is the work one slice of a close does (the benchmark
	// compares it with one slice for the whole close).
	closeSlice time.Duration
	startedAt  time.Time
	lastSave   time.Time
	governFP   string
	restored   int // series restored at start, for the log and tests
}

func newMonitor(set connector.Settings, cfg *Config, logsNext consumer.Logs, opts options) (*monitor, error) {
	m := &monitor{
		id: set.ID, cfg: cfg, secret: []byte(cfg.FingerprintSecret), logger: set.Logger,
		now: opts.now, manual: opts.manual, logsNext: logsNext,
		series:     map[string]*tenantSeries{},
		closeSlice: closeSlice,
		governFP:   identity.Fingerprint([]byte(cfg.FingerprintSecret), policy.Governance),
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	m.telemetry = tb
	if err := errors.Join(
		tb.RegisterTenantanomalyScoreCallback(m.observeScores),
		tb.RegisterTenantanomalyObservedCallback(m.observeObserved),
		tb.RegisterTenantanomalyExpectedCallback(m.observeExpected),
	); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return m, nil
}

// Start runs once for all instances: find the policy, restore the
// baselines, start the ticker.
func (m *monitor) Start(ctx context.Context, host component.Host) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	prov, err := policy.FromHost(host, m.cfg.Policy)
	if err != nil {
		return err
	}
	m.provider = prov
	m.access, _ = prov.(access.Source)
	if m.cfg.Storage != nil {
		client, err := storageClient(ctx, host, *m.cfg.Storage, m.id)
		if err != nil {
			return err
		}
		m.client = client
	}
	if m.cfg.Baselines != nil {
		b, err := newKafkaBaselines(ctx, m, *m.cfg.Baselines)
		if err != nil {
			return err
		}
		m.baselines = b
	}
	m.started = true
	m.startedAt = m.now()
	m.lastSave = m.startedAt
	v := m.rebuildViewLocked(prov.Policy())
	if m.client != nil {
		tenants, series, err := m.restore(ctx, v)
		if err != nil {
			// A damaged store costs the baselines, not the pipeline.
			m.logger.Warn("tenantanomaly: could not restore baselines; starting fresh", zap.Error(err))
		}
		m.restored = series
		m.logger.Info("tenantanomaly: restored baselines", zap.Int("tenants", tenants), zap.Int("series", series))
	} else if m.baselines == nil {
		m.logger.Info("tenantanomaly: no storage configured; baselines are kept in memory only")
	}
	if !m.manual {
		m.stop, m.done = make(chan struct{}), make(chan struct{})
		go m.run(m.stop, m.done)
	}
	return nil
}

func storageClient(ctx context.Context, host component.Host, storageID, owner component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[storageID]
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not configured; add it under extensions: and service.extensions", storageID)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("storage: extension %q is not a storage extension", storageID)
	}
	return se.GetClient(ctx, component.KindConnector, owner, "")
}

// Shutdown runs once for all instances (also when Start never ran or
// failed): it stops the ticker, saves the baselines and closes the storage
// client.
func (m *monitor) Shutdown(ctx context.Context) error {
	m.telemetry.Shutdown()
	m.mu.Lock()
	started, stop, done, client, baselines := m.started, m.stop, m.done, m.client, m.baselines
	m.mu.Unlock()
	if !started {
		return nil
	}
	if stop != nil {
		close(stop)
		<-done
	}
	if baselines != nil {
		m.flushMu.Lock()
		err := baselines.save(ctx)
		m.flushMu.Unlock()
		baselines.close()
		return err
	}
	if client == nil {
		return nil
	}
	// The open interval is partial; it is dropped rather than scored.
	m.flushMu.Lock()
	err := m.save(ctx)
	m.flushMu.Unlock()
	return errors.Join(err, client.Close(ctx))
}

// run closes an interval at every multiple of Interval.
func (m *monitor) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		now := m.now()
		end := now.Truncate(m.cfg.Interval).Add(m.cfg.Interval)
		t := time.NewTimer(end.Sub(now))
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		m.closeInterval(context.Background(), end, m.closeSpread(), stop)
	}
}

// currentView returns the view of the policy in force, rebuilding it when
// the provider hands out a new policy.
func (m *monitor) currentView() *view {
	pol := m.provider.Policy()
	if v := m.view.Load(); v != nil && v.pol == pol {
		return v
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rebuildViewLocked(pol)
}

func (m *monitor) rebuildViewLocked(pol *policy.Policy) *view {
	if v := m.view.Load(); v != nil && v.pol == pol {
		return v
	}
	v := &view{pol: pol, tenants: make(map[string]viewEntry, pol.Len())}
	for _, id := range pol.TenantIDs() {
		t, _ := pol.Tenant(id)
		if !t.Anomaly.Enabled {
			continue
		}
		v.tenants[id] = viewEntry{series: m.seriesLocked(id), sensitivity: t.Anomaly.Sensitivity}
	}
	m.view.Store(v)
	return v
}

// seriesLocked returns the tenant's series, creating it; series outlive
// policy reloads so a tenant disabled and enabled again keeps its baseline.
func (m *monitor) seriesLocked(id string) *tenantSeries {
	s, ok := m.series[id]
	if !ok {
		s = &tenantSeries{id: id, fingerprint: identity.Fingerprint(m.secret, id)}
		m.series[id] = s
	}
	return s
}

// finding is one flagged feature of a closed interval.
type finding struct {
	key        string
	observed   float64
	expected   float64
	score      float64
	points     uint64 // intervals the baseline had learnt, this one included
	credential string // the credential the finding concerns, if any
}

type tenantFindings struct {
	series   *tenantSeries
	findings []finding
}

// An interval's close runs in slices, each holding flushMu for about
// closeSlice of work (ingest waits only for a tenant's own lock, held for
// that tenant's updates, some microseconds). The ticker paces the slices
// over closeSpread, so the close, ~75-90 ms of CPU at 10,000 tenants x 19
// series, is not one burst beside ingest on a small machine.
const closeSlice = 2 * time.Millisecond

// closeSpread is how long after the boundary the ticker spreads a close:
// a tenth of the interval, at most a second. A tenant's interval is cut
// when its slice runs, at about the same offset every interval (tenants
// go in id order), so each of its points still covers one interval's
// length; its records carry the boundaries of the nominal interval.
func (m *monitor) closeSpread() time.Duration {
	return min(m.cfg.Interval/10, time.Second)
}

// closeStats is what one close cost.
type closeStats struct {
	slices  int
	work    time.Duration // the slices' sum
	longest time.Duration // the longest slice
}

// flush closes the interval that ends at end without pacing (tests drive
// it).
func (m *monitor) flush(ctx context.Context, end time.Time) {
	m.closeInterval(ctx, end, 0, nil)
}

// closeInterval closes the interval that ends at end: every enabled
// tenant's accumulators become one point of its series, in slices paced
// over spread (at once when stop closes), then flagged tenants get one
// anomaly record each and the baselines are checkpointed when due.
func (m *monitor) closeInterval(ctx context.Context, end time.Time, spread time.Duration, stop <-chan struct{}) closeStats {
	start := end.Add(-m.cfg.Interval)
	// The first interval after a start began before the collector did; its
	// counts are partial and would look like a drop.
	partial := start.Before(m.startedAt)
	v := m.currentView()
	ids := v.pol.TenantIDs()
	var st closeStats
	var flagged []tenantFindings
	began := time.Now()
	for i := 0; i < len(ids); {
		m.flushMu.Lock()
		sliceStart := time.Now()
		var took time.Duration
		for ; i < len(ids) && took < m.closeSlice; i++ {
			if e, ok := v.tenants[ids[i]]; ok {
				if fs := m.closeTenant(ids[i], e, end, partial); len(fs) > 0 {
					flagged = append(flagged, tenantFindings{series: e.series, findings: fs})
				}
			}
			took = time.Since(sliceStart)
		}
		m.flushMu.Unlock()
		st.slices++
		st.work += took
		st.longest = max(st.longest, took)
		if spread <= 0 || i == len(ids) {
			continue
		}
		// Wait until the share of the spread the tenants closed so far
		// are due at; a close behind it goes on at once.
		if wait := time.Until(began.Add(spread * time.Duration(i) / time.Duration(len(ids)))); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				spread = 0 // shutting down: finish at once
			}
		}
	}
	if len(flagged) > 0 {
		m.emit(ctx, flagged, start, end)
	}
	m.logger.Debug("tenantanomaly: interval closed", zap.Time("end", end), zap.Int("slices", st.slices),
		zap.Duration("work", st.work), zap.Duration("longest_slice", st.longest))
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	if (m.client != nil || m.baselines != nil) && end.Sub(m.lastSave) >= m.cfg.CheckpointInterval {
		m.lastSave = end
		if err := m.save(ctx); err != nil {
			m.logger.Warn("tenantanomaly: could not save baselines", zap.Error(err))
		}
	}
	return st
}

// closeTenant closes one tenant's interval: its access counts and each
// signal's accumulators become a point of its series. It returns the
// findings, strongest first.
func (m *monitor) closeTenant(id string, e viewEntry, end time.Time, partial bool) []finding {
	reading := m.readAccess(id)
	t := e.series
	t.mu.Lock()
	fs := t.access.close(m.cfg, reading, partial)
	for s := range signalCount {
		ss := t.sig[s]
		if ss == nil {
			continue
		}
		vals := ss.acc.values()
		if partial || ss.claimedMidInterval {
			ss.claimedMidInterval = false
			continue
		}
		for _, f := range signalFeatures[s] {
			d := m.detector(ss, f, e.sensitivity)
			score := d.Update(end, vals[f])
			ss.score[f], ss.observed[f] = float32(score), vals[f]
			if score >= m.cfg.Threshold {
				fs = append(fs, finding{key: featureKeys[s][f], observed: vals[f], expected: d.Explain().Expected, score: score, points: d.Points()})
			}
		}
		fs = m.scoreValues(id, ss, end, e.sensitivity, fs) // configured metrics' values (values.go)
	}
	t.mu.Unlock()
	if len(fs) > 1 {
		sort.Slice(fs, func(i, j int) bool { return fs[i].score > fs[j].score })
	}
	return fs
}

// detector returns the detector of feature f, created on first use and
// rebuilt (keeping its state) when the tenant's sensitivity changed.
func (m *monitor) detector(ss *signalSeries, f feature, sensitivity float64) *anomaly.Detector {
	d := ss.det[f]
	if d != nil && d.Config().Sensitivity == sensitivity {
		return d
	}
	// The policy validated the sensitivity and Config.Validate the rest.
	nd, err := anomaly.New(m.cfg.detectorConfig(sensitivity))
	if err != nil {
		panic(err)
	}
	if d != nil {
		if b, err := d.MarshalBinary(); err == nil {
			_ = nd.UnmarshalBinary(b)
		}
	}
	ss.det[f] = nd
	return nd
}

// emit sends one _governance log record per flagged tenant to the logs
// pipelines, naming its strongest feature and listing all flagged ones.
func (m *monitor) emit(ctx context.Context, flagged []tenantFindings, start, end time.Time) {
	sort.Slice(flagged, func(i, j int) bool { return flagged[i].series.id < flagged[j].series.id })
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, policy.Governance)
	rl.Resource().Attributes().PutStr(identity.AttrFingerprint, m.governFP)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	startStr, endStr := start.UTC().Format(time.RFC3339Nano), end.UTC().Format(time.RFC3339Nano)
	for _, tf := range flagged {
		top := tf.findings[0]
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(pcommon.NewTimestampFromTime(end))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(m.now()))
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		lr.SetSeverityText("WARN")
		lr.Body().SetStr(fmt.Sprintf("anomaly: tenant %s %s = %g, expected %g (score %.3f)", tf.series.id, top.key, top.observed, top.expected, top.score))
		a := lr.Attributes()
		a.PutStr(AttrTenantID, tf.series.id)
		a.PutStr(AttrFingerprint, tf.series.fingerprint)
		a.PutStr(AttrFeature, top.key)
		a.PutDouble(AttrObserved, top.observed)
		a.PutDouble(AttrExpected, top.expected)
		a.PutDouble(AttrScore, top.score)
		a.PutInt(AttrBaselinePoints, int64(top.points))
		all := a.PutEmptySlice(AttrFeatures)
		for i, f := range tf.findings {
			// Several credentials' bursts are one feature.
			if !slices.ContainsFunc(tf.findings[:i], func(g finding) bool { return g.key == f.key }) {
				all.AppendEmpty().SetStr(f.key)
			}
		}
		m.putAccessSubjects(a, tf)
		a.PutStr(AttrStart, startStr)
		a.PutStr(AttrEnd, endStr)
	}
	if err := m.logsNext.ConsumeLogs(ctx, ld); err != nil {
		m.logger.Warn("tenantanomaly: could not emit anomaly records", zap.Int("records", len(flagged)), zap.Error(err))
	}
}

// observeScores reports the last score of every enabled tenant's features
// that have a detector (otelcol_tenantanomaly_score).
func (m *monitor) observeScores(_ context.Context, o metric.Float64Observer) error {
	m.observeEach(o, func(ss *signalSeries, f feature) (float64, bool) {
		return float64(ss.score[f]), true
	})
	return nil
}

// observeObserved reports the value of the last closed interval of the same
// series (otelcol_tenantanomaly_observed), where it had one.
func (m *monitor) observeObserved(_ context.Context, o metric.Float64Observer) error {
	m.observeEach(o, func(ss *signalSeries, f feature) (float64, bool) {
		return ss.observed[f], !math.IsNaN(ss.observed[f])
	})
	return nil
}

// observeExpected reports what the baseline expected for that interval
// (otelcol_tenantanomaly_expected), the anomaly record's anomaly.expected.
// A detector's first point has no baseline to expect it from.
func (m *monitor) observeExpected(_ context.Context, o metric.Float64Observer) error {
	m.observeEach(o, func(ss *signalSeries, f feature) (float64, bool) {
		if math.IsNaN(ss.observed[f]) || ss.det[f].Points() < 2 {
			return 0, false
		}
		return ss.det[f].Explain().Expected, true
	})
	return nil
}

// observeEach observes value for every enabled tenant's features that have
// a detector: policy tenants only, at most one series per feature, so
// every per-series metric has the same bounded set of series.
func (m *monitor) observeEach(o metric.Float64Observer, value func(*signalSeries, feature) (float64, bool)) {
	v := m.view.Load()
	if v == nil {
		return
	}
	for id, e := range v.tenants {
		e.series.mu.Lock()
		for s := range signalCount {
			ss := e.series.sig[s]
			if ss == nil {
				continue
			}
			for _, f := range signalFeatures[s] {
				if ss.det[f] == nil {
					continue
				}
				if x, ok := value(ss, f); ok {
					o.Observe(x, metric.WithAttributes(attribute.String("tenant", id), attribute.String("feature", featureKeys[s][f])))
				}
			}
		}
		e.series.mu.Unlock()
	}
}
