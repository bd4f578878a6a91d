package tenantrouterexporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
)

// TestH29rKafkaFallbackGetsReusedMemory: protoUse decides whether a batch
// lives in reused memory from the backends the policy names, but route
// then falls back to the default backends when none of those may take it
// (residency, no tenant id, no credential, unknown). acme's policy names
// only an OTLP/HTTP backend outside its residency, so its batch is
// marshaled into reused memory and then offered to the default Kafka
// backend, whose record value (kafkaBackend.records) is that memory:
// exactly what d6e7497 says must never happen ("batches a Kafka backend
// takes keep bytes of their own"). The queue's send here keeps the record
// value the real records() built, as the commit says franz-go may; once
// the queue lets go, globex's next request is marshaled over it, and
// acme's Kafka record now holds globex's data.
func TestH29rKafkaFallbackGetsReusedMemory(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(s.Close)

	cfg := createDefaultConfig().(*Config)
	eu := &BackendConfig{Type: TypeOTLPHTTP, ClientConfig: confighttp.ClientConfig{Endpoint: s.URL}, Retry: fastRetry(), Region: "eu-west"}
	us := kafkaBackendConfig("127.0.0.1:1", "us.{tenant}.{signal}")
	us.Region = "us-east"
	us.Kafka.ReservedTopic = "us.{tenant}.{signal}"
	cfg.Backends = map[string]*BackendConfig{"eu": eu, "us": us}
	cfg.DefaultBackends = map[string][]string{"logs": {"us"}, "metrics": {"us"}, "traces": {"us"}}
	cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"eu"}, []string{"eu"}
	e := startRouter(t, cfg, "tenants:\n  acme: {residency: us-east, backends: {logs: [eu]}}\n  globex: {backends: {logs: [eu]}}\n")
	r := e.r

	// acme's queue to the Kafka backend, its send the Kafka backend's
	// records() with the value kept, as a producer that still holds it.
	kb := r.backends["us"].(*kafkaBackend)
	type seen struct {
		pooled      bool
		value, copy []byte
	}
	got := make(chan seen, 1)
	send := func(_ context.Context, tenant string, b batch) error {
		recs, err := kb.records("us.acme.logs", tenant, b)
		if err != nil || len(recs) != 1 {
			got <- seen{}
			return err
		}
		got <- seen{pooled: b.buf != nil, value: recs[0].Value, copy: bytes.Clone(recs[0].Value)}
		return nil
	}
	r.mu.Lock()
	r.queues[statsKey{"acme", "us"}] = newTenantQueue("acme", "us", queueBounds{batches: 10, bytes: r.cfg.QueueBytes, total: r.total}, 1, send,
		*fastRetry(), time.Second, r.tel.of("acme", "us"), r.stopping, r.abandon, r.journal, r.logger)
	r.mu.Unlock()

	lines := func(tenant string) []string {
		out := make([]string, 1500)
		for i := range out {
			out[i] = fmt.Sprintf("%s record %04d %s", tenant, i, strings.Repeat(tenant[:1], 100))
		}
		return out
	}
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), batchOf("acme", "a", lines("acme"))))
	var acme seen
	select {
	case acme = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("acme's batch never reached the Kafka queue")
	}
	require.NotNil(t, acme.value)
	eventually(t, "acme's Kafka queue let go of the batch", func() bool { return e.stats("acme", "us").size.Load() == 0 })

	// globex's request, the same size, goes to eu in reused memory.
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), batchOf("globex", "g", lines("globex"))))

	assert.False(t, acme.pooled, "a batch the Kafka backend takes is in reused memory (route fell back to the default backends after protoUse chose to pool)")
	assert.True(t, bytes.Equal(acme.value, acme.copy), "acme's Kafka record value changed after its send returned; holds globex's data: %v",
		bytes.Contains(acme.value, []byte("globex record")))
}
