package tenantanomalyconnector

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/connector/tenantanomalyconnector/internal/metadata"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

const testSecret = "0123456789abcdef"

// t0 is a Monday midnight: intervals of the tests start on it.
var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var storageID = component.MustNewID("file_storage")

func newHost(p *policy.Policy, st *memStorage) component.Host {
	extra := map[component.ID]component.Component{}
	if st != nil {
		extra[storageID] = st
	}
	return policytest.NewHost(policy.Static{P: p}, extra)
}

// memStorage is a storage extension whose data outlives its clients, like
// file_storage's files outlive a collector process.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu   sync.Mutex
	data map[string][]byte
}

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}} }

func (s *memStorage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	return &memClient{s: s, prefix: fmt.Sprintf("%s/%s/%s/", kind, id, name)}, nil
}

type memClient struct {
	s      *memStorage
	prefix string
}

func (c *memClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *memClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *memClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *memClient) Batch(_ context.Context, ops ...*storage.Operation) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for _, op := range ops {
		switch op.Type {
		case storage.Get:
			op.Value = append([]byte(nil), c.s.data[c.prefix+op.Key]...)
			if _, ok := c.s.data[c.prefix+op.Key]; !ok {
				op.Value = nil
			}
		case storage.Set:
			c.s.data[c.prefix+op.Key] = append([]byte(nil), op.Value...)
		case storage.Delete:
			delete(c.s.data, c.prefix+op.Key)
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error { return nil }

// harness runs the three signal instances of one component id on a fake
// clock; flush closes the next interval by hand. Every instance's logs out
// is the one sink, as the collector routes them all to the same pipelines.
type harness struct {
	t       testing.TB
	clock   *fakeClock
	cfg     *Config
	factory connector.Factory
	logs    connector.Logs
	metrics connector.Metrics
	traces  connector.Traces
	sink    *consumertest.LogsSink
	tel     *componenttest.Telemetry
	stopped bool
}

func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.FingerprintSecret = testSecret
	cfg.Probation = 10
	return cfg
}

func loadPolicy(t testing.TB) *policy.Policy {
	p, err := policy.Load("testdata/tenants.yaml")
	require.NoError(t, err)
	return p
}

func newHarness(t testing.TB, cfg *Config, pol *policy.Policy, st *memStorage, start time.Time) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, newHost(pol, st), start)
}

// newHarnessOn is newHarness on a given host.
func newHarnessOn(t testing.TB, cfg *Config, host component.Host, start time.Time) *harness {
	t.Helper()
	h := &harness{t: t, clock: &fakeClock{t: start}, cfg: cfg, sink: new(consumertest.LogsSink), tel: componenttest.NewTelemetry()}
	h.factory = newFactory(options{now: h.clock.Now, manual: true})
	set := connectortest.NewNopSettings(metadata.Type)
	// A fixed id, as a restarted collector has: the baselines are stored
	// under it (NewNopSettings names each instance anew).
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = h.tel.NewTelemetrySettings()
	var err error
	h.logs, err = h.factory.CreateLogsToLogs(context.Background(), set, cfg, h.sink)
	require.NoError(t, err)
	h.metrics, err = h.factory.CreateMetricsToLogs(context.Background(), set, cfg, h.sink)
	require.NoError(t, err)
	h.traces, err = h.factory.CreateTracesToLogs(context.Background(), set, cfg, h.sink)
	require.NoError(t, err)
	for _, c := range h.instances() {
		require.NoError(t, c.Start(context.Background(), host))
	}
	t.Cleanup(func() { h.shutdown() })
	return h
}

func (h *harness) instances() []component.Component {
	return []component.Component{h.logs, h.metrics, h.traces}
}

func (h *harness) monitor() *monitor {
	return h.logs.(logsConnector).Unwrap()
}

func (h *harness) shutdown() {
	if h.stopped {
		return
	}
	h.stopped = true
	for _, c := range h.instances() {
		require.NoError(h.t, c.Shutdown(context.Background()))
	}
	require.NoError(h.t, h.tel.Shutdown(context.Background()))
}

// flush closes the open interval.
func (h *harness) flush() {
	h.monitor().flush(context.Background(), h.clock.Add(h.cfg.Interval))
}

// sendLogs sends n log records of tenant, errs of them at ERROR.
func (h *harness) sendLogs(tenant string, n, errs int) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range n {
		lr := lrs.AppendEmpty()
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
		if i < errs {
			lr.SetSeverityNumber(plog.SeverityNumberError)
		}
		lr.Body().SetStr("order accepted " + strings.Repeat("x", 40))
	}
	require.NoError(h.t, h.logs.ConsumeLogs(context.Background(), ld))
}

// sendSpans sends n spans of tenant, each lasting d.
func (h *harness) sendSpans(tenant string, n int, d time.Duration) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(identity.AttrTenantID, tenant)
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	start := pcommon.NewTimestampFromTime(t0)
	for range n {
		sp := spans.AppendEmpty()
		sp.SetName("GET /orders")
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(d))
	}
	require.NoError(h.t, h.traces.ConsumeTraces(context.Background(), td))
}

// anomalies returns the _governance log records the connector emitted.
func (h *harness) anomalies() []plog.LogRecord {
	var out []plog.LogRecord
	for _, ld := range h.sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			if v, _ := rl.Resource().Attributes().Get(identity.AttrTenantID); v.Str() != policy.Governance {
				continue
			}
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

func str(m pcommon.Map, k string) string {
	v, _ := m.Get(k)
	return v.AsString()
}

// newLifecycleHost is the host of the generated lifecycle test
// (metadata.yaml tests.host): Start needs the tenantpolicy extension.
func newLifecycleHost(t *testing.T) component.Host {
	return newHost(loadPolicy(t), nil)
}
