package tenantkafkareceiver

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/peertest"
	"github.com/tenancyhq/tenancy/internal/tenantkafka"
)

// got is one batch the pipeline was given, with the identity it came
// with.
type got struct {
	auth    identity.AuthData
	sampled bool     // tenantkafka.Sampled: not a spread tenant's shard other than 0
	tenants []string // each resource's tenant.id
	markers []string
}

// sink is a logs and metrics consumer that records what it accepts;
// refuse, when set, decides per call whether to fail it.
type sink struct {
	mu     sync.Mutex
	logs   []got
	points int
	calls  atomic.Int64
	refuse func(n int64) error
}

func (s *sink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *sink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if s.refuse != nil {
		if err := s.refuse(s.calls.Add(1)); err != nil {
			return err
		}
	}
	a, _ := identity.AuthFromContext(ctx)
	g := got{auth: a, sampled: tenantkafka.Sampled(ctx)}
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		attrs := ld.ResourceLogs().At(i).Resource().Attributes()
		tid, _ := attrs.Get(identity.AttrTenantID)
		m, _ := attrs.Get("marker")
		g.tenants, g.markers = append(g.tenants, tid.Str()), append(g.markers, m.Str())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = append(s.logs, g)
	return nil
}

func (s *sink) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points += md.DataPointCount()
	return nil
}

func (s *sink) all() []got {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]got(nil), s.logs...)
}

func logsMessage(t *testing.T, pairs ...[2]string) []byte {
	ld := plog.NewLogs()
	for _, p := range pairs {
		rl := ld.ResourceLogs().AppendEmpty()
		if p[0] != "" {
			rl.Resource().Attributes().PutStr(identity.AttrTenantID, p[0])
		}
		rl.Resource().Attributes().PutStr("marker", p[1])
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(p[1])
	}
	b, err := plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	return b
}

func produce(t *testing.T, broker string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, r := range recs {
		_, _ = adm.CreateTopic(t.Context(), 1, -1, nil, r.Topic)
	}
	require.NoError(t, cl.ProduceSync(t.Context(), recs...).FirstErr())
}

func testConfig(broker string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Brokers = []string{broker}
	cfg.TopicRefreshInterval = 200 * time.Millisecond
	cfg.RetryInterval = 50 * time.Millisecond
	cfg.SessionTimeout, cfg.HeartbeatInterval = 6*time.Second, 500*time.Millisecond
	return cfg
}

// start makes the logs (and, with metrics, metrics) receiver of cfg on s.
func start(t *testing.T, cfg *Config, s *sink, metrics bool) *kafkaReceiver {
	t.Helper()
	require.NoError(t, cfg.Validate())
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())
	set.ID = component.NewID(f.Type())
	l, err := f.CreateLogs(t.Context(), set, cfg, s)
	require.NoError(t, err)
	comps := []component.Component{l}
	if metrics {
		m, err := f.CreateMetrics(t.Context(), set, cfg, s)
		require.NoError(t, err)
		comps = append(comps, m)
	}
	for _, c := range comps {
		require.NoError(t, c.Start(t.Context(), policyHost(t)))
	}
	r, err := receivers.LoadOrStore(cfg, func() (*kafkaReceiver, error) { return nil, errors.New("none") })
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, c := range comps {
			assert.NoError(t, c.Shutdown(context.Background()))
		}
	})
	return r.Unwrap()
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed is the group's committed offset of a topic's partition 0
// (-1: none).
func committed(t *testing.T, broker, group, topic string) int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	require.NoError(t, err)
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(t.Context(), group)
	require.NoError(t, err)
	if o, ok := offs.Lookup(topic, 0); ok {
		return o.At
	}
	return -1
}

// TestTopicBindsTenant: each message reaches the pipeline of its signal
// marked with the tenant of its topic, whatever its resources claim; the
// processor decides about the claim.
func TestTopicBindsTenant(t *testing.T) {
	broker := peertest.StartKafka(t)
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	mb, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	require.NoError(t, err)
	produce(t, broker,
		&kgo.Record{Topic: "tenancy.acme.logs", Key: []byte("acme"), Value: logsMessage(t, [2]string{"acme", "a1"}, [2]string{"globex", "forged"})},
		&kgo.Record{Topic: "tenancy.globex.metrics", Key: []byte("globex"), Value: mb},
		&kgo.Record{Topic: "tenancy._quarantine.logs", Key: []byte("_quarantine"), Value: logsMessage(t, [2]string{"_quarantine", "q1"})},
		&kgo.Record{Topic: "other.acme.logs", Value: logsMessage(t, [2]string{"acme", "not ours"})},
	)
	s := &sink{}
	r := start(t, testConfig(broker), s, true)
	eventually(t, "acme's message and globex's metrics", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.logs) == 1 && s.points == 1
	})
	g := s.all()[0]
	assert.Equal(t, identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}, g.auth)
	assert.Equal(t, []string{"acme", "globex"}, g.tenants, "claims are passed on for the tenant processor to judge")
	assert.Equal(t, []string{"a1", "forged"}, g.markers)
	eventually(t, "acme's offset committed", func() bool { return committed(t, broker, DefaultGroupID, "tenancy.acme.logs") == 1 })
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, s.all(), 1, "neither the pipeline tenants' topics nor another template's are read")
	assert.EqualValues(t, 2, r.records.Get(recordsKey{"acme", "logs"}).Load(), "records, not messages")
}

// TestNewTenantTopicFollowed: a tenant topic created after the receiver
// started is consumed within topic_refresh_interval.
func TestNewTenantTopicFollowed(t *testing.T) {
	broker := peertest.StartKafka(t)
	s := &sink{}
	start(t, testConfig(broker), s, false)
	time.Sleep(500 * time.Millisecond)
	produce(t, broker, &kgo.Record{Topic: "tenancy.initech.logs", Value: logsMessage(t, [2]string{"", "i1"})})
	eventually(t, "initech's message", func() bool { return len(s.all()) == 1 })
	assert.Equal(t, "initech", s.all()[0].auth.Tenant)
}

// TestCommitOnlyAfterAccepted: while the pipeline refuses a message
// (retryable), its offset is not committed and it is offered again; once
// accepted it is committed, and a new member of the group starts after it.
func TestCommitOnlyAfterAccepted(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker, &kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "a1"})})
	var open atomic.Bool
	s := &sink{refuse: func(int64) error {
		if open.Load() {
			return nil
		}
		return errors.New("backend down")
	}}
	cfg := testConfig(broker)
	start(t, cfg, s, false)
	eventually(t, "offered three times", func() bool { return s.calls.Load() >= 3 })
	assert.EqualValues(t, -1, committed(t, broker, DefaultGroupID, "tenancy.acme.logs"), "nothing committed before the pipeline accepted")
	open.Store(true)
	eventually(t, "accepted", func() bool { return len(s.all()) == 1 })
	eventually(t, "committed", func() bool { return committed(t, broker, DefaultGroupID, "tenancy.acme.logs") == 1 })
}

// TestUncommittedIsReadAgain: a member stopped while the pipeline refuses
// a message leaves it uncommitted; the next member of the group reads it
// (at least once), and not the one accepted before it.
func TestUncommittedIsReadAgain(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker, &kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "a1"})},
		&kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "a2"})})
	first := &sink{refuse: func(n int64) error {
		if n == 1 {
			return nil
		}
		return errors.New("down")
	}}
	cfg := testConfig(broker)
	f := NewFactory()
	set := receivertest.NewNopSettings(f.Type())
	l, err := f.CreateLogs(t.Context(), set, cfg, first)
	require.NoError(t, err)
	require.NoError(t, l.Start(t.Context(), policyHost(t)))
	eventually(t, "a2 refused", func() bool { return first.calls.Load() >= 2 })
	require.NoError(t, l.Shutdown(context.Background()))
	require.Len(t, first.all(), 1)
	assert.EqualValues(t, 1, committed(t, broker, DefaultGroupID, "tenancy.acme.logs"), "a1 accepted and committed, a2 not")

	second := &sink{}
	start(t, testConfig(broker), second, false)
	eventually(t, "a2 read again", func() bool { return len(second.all()) == 1 })
	assert.Equal(t, []string{"a2"}, second.all()[0].markers)
}

// TestReservedTopics: reserved mode reads only the pipeline tenants'
// topics and binds every resource to the topic's tenant, so a record
// forged into _quarantine's topic claiming acme stays in _quarantine.
func TestReservedTopics(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker,
		&kgo.Record{Topic: "tenancy._quarantine.logs", Value: logsMessage(t, [2]string{"_quarantine", "q1"}, [2]string{"acme", "forged"})},
		&kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "a1"})})
	cfg := testConfig(broker)
	cfg.Reserved, cfg.GroupID = true, "reserved"
	s := &sink{}
	start(t, cfg, s, false)
	eventually(t, "the quarantine message", func() bool { return len(s.all()) == 1 })
	assert.Equal(t, []string{"_quarantine", "_quarantine"}, s.all()[0].tenants)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, s.all(), 1, "a tenant topic is not read in reserved mode")
}

// TestUndecodableAndPermanent: a message that is not OTLP, and one the
// pipeline refuses for good, are counted and committed, and the next is
// read; a shared topic's message without a key has no tenant.
func TestUndecodableAndPermanent(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker,
		&kgo.Record{Topic: "tenancy.logs", Key: []byte("acme"), Value: []byte("not protobuf \xff\xff")},
		&kgo.Record{Topic: "tenancy.logs", Key: []byte("acme"), Value: logsMessage(t, [2]string{"acme", "refused"})},
		&kgo.Record{Topic: "tenancy.logs", Value: logsMessage(t, [2]string{"acme", "keyless"})},
		&kgo.Record{Topic: "tenancy.logs", Key: []byte("globex"), Value: logsMessage(t, [2]string{"globex", "g1"})})
	cfg := testConfig(broker)
	cfg.Topic = "tenancy.{signal}"
	s := &sink{refuse: func(n int64) error {
		if n == 1 {
			return consumererror.NewPermanent(errors.New("no"))
		}
		return nil
	}}
	r := start(t, cfg, s, false)
	eventually(t, "globex's message", func() bool { return len(s.all()) == 1 })
	assert.Equal(t, "globex", s.all()[0].auth.Tenant, "a shared topic's key names the tenant")
	assert.EqualValues(t, 1, r.dropped.Get(reasonUndecodable).Load())
	assert.EqualValues(t, 1, r.dropped.Get(reasonPermanent).Load())
	assert.EqualValues(t, 1, r.dropped.Get(reasonNoTenant).Load())
	eventually(t, "all committed", func() bool { return committed(t, broker, DefaultGroupID, "tenancy.logs") == 4 })
}
