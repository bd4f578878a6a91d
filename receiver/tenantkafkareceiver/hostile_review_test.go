package tenantkafkareceiver

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/peertest"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/receiver/tenantkafkareceiver/internal/metadata"
)

// handler is a receiver that hands records to handle directly, no broker:
// what it does with one record's topic, key, headers and value.
func handler(t *testing.T, topic string, reserved bool) (*kafkaReceiver, *metaSink) {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.Topic, cfg.Reserved = topic, reserved
	require.NoError(t, cfg.Validate())
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	r, err := newReceiver(cfg, set)
	require.NoError(t, err)
	t.Cleanup(r.tb.Shutdown)
	s := &metaSink{}
	r.logs = s
	return r, s
}

// metaSink is sink that also keeps each call's client metadata.
type metaSink struct {
	sink
	metadata []client.Metadata
	last     plog.Logs
}

func (s *metaSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	s.mu.Lock()
	s.metadata = append(s.metadata, client.FromContext(ctx).Metadata)
	s.last = ld
	s.mu.Unlock()
	return s.sink.ConsumeLogs(ctx, ld)
}

// A record's key and headers are the producer's word: on a tenant's own
// topic neither names the tenant, and no header reaches the pipeline as
// request metadata (where a tenant processor's trusted_header would read
// it).
func TestHeadersAndKeyDoNotNameTheTenant(t *testing.T) {
	r, s := handler(t, "tenancy.{tenant}.{signal}", false)
	rec := &kgo.Record{
		Topic: "tenancy.acme.logs", Key: []byte("globex"),
		Headers: []kgo.RecordHeader{
			{Key: "tenant.id", Value: []byte("globex")},
			{Key: "X-Scope-OrgID", Value: []byte("globex")},
			{Key: identity.AuthTenant, Value: []byte("globex")},
		},
		Value: logsMessage(t, [2]string{"acme", "m1"}),
	}
	require.True(t, r.handle(t.Context(), rec))
	got := s.all()
	require.Len(t, got, 1)
	assert.Equal(t, "acme", got[0].auth.Tenant)
	assert.Equal(t, identity.SourceKafkaTopic, got[0].auth.Source)
	assert.Equal(t, "topic:tenancy.acme.logs", got[0].auth.Credential)
	assert.Equal(t, "tenantkafka", got[0].auth.Receiver)
	for _, h := range []string{"tenant.id", "X-Scope-OrgID", "x-scope-orgid", identity.AuthTenant} {
		assert.Empty(t, s.metadata[0].Get(h), "header %s", h)
	}
}

// In reserved mode every resource, whatever tenant.id (or copies of it) it
// carries, is the topic's pipeline tenant or, repeated, no one's: never a
// policy tenant.
func TestReservedTopicBindsEveryResource(t *testing.T) {
	r, s := handler(t, "tenancy.{tenant}.{signal}", true)
	// Repeated keys only survive the wire form: build it from JSON.
	var b strings.Builder
	b.WriteString(`{"resourceLogs":[`)
	for i, ids := range [][]string{{"acme"}, {}, {"acme", "globex"}, {"_quarantine", "acme"}} {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"resource":{"attributes":[`)
		for j, id := range ids {
			if j > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"key":"tenant.id","value":{"stringValue":"` + id + `"}}`)
		}
		b.WriteString(`]},"scopeLogs":[{"logRecords":[{}]}]}`)
	}
	b.WriteString(`]}`)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(b.String()))
	require.NoError(t, err)
	raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)

	require.True(t, r.handle(t.Context(), &kgo.Record{Topic: "tenancy._governance.logs", Value: raw}))
	require.Len(t, s.logs, 1)
	pol, err := policy.Parse("p", []byte("tenants: {acme: {}, globex: {}}\n"))
	require.NoError(t, err)
	var parts []string
	for i := 0; i < s.last.ResourceLogs().Len(); i++ {
		id, _ := identity.Partition(pol, s.last.ResourceLogs().At(i).Resource().Attributes())
		parts = append(parts, id)
	}
	assert.Equal(t, []string{policy.Governance, policy.Governance, "", ""}, parts,
		"a repeated tenant.id stays no one's (the router quarantines it)")
}

// A record batch compressed to a few KiB that decompresses past the bound
// (anyone who can write the topic picks its compression) is skipped and
// counted; the partition's next messages are still read.
func TestDecompressionBombSkipped(t *testing.T) {
	old := maxDecompressBatchBytes
	maxDecompressBatchBytes = 1 << 20
	t.Cleanup(func() { maxDecompressBatchBytes = old })
	broker := peertest.StartKafka(t)
	bomb, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerBatchMaxBytes(16<<20))
	require.NoError(t, err)
	_, _ = kadm.NewClient(bomb).CreateTopic(t.Context(), 1, -1, nil, "tenancy.acme.logs")
	require.NoError(t, bomb.ProduceSync(t.Context(), &kgo.Record{Topic: "tenancy.acme.logs", Value: make([]byte, 4<<20)}).FirstErr())
	bomb.Close()
	produce(t, broker, &kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "after"})})
	s := &sink{}
	r := start(t, testConfig(broker), s, false)
	eventually(t, "the message after the bomb", func() bool { return len(s.all()) == 1 })
	assert.EqualValues(t, 1, r.dropped.Get(reasonTooLarge).Load())
	assert.Zero(t, r.dropped.Get(reasonUndecodable).Load(), "the bomb never reached decoding")
	eventually(t, "both committed", func() bool { return committed(t, broker, DefaultGroupID, "tenancy.acme.logs") == 2 })
}
