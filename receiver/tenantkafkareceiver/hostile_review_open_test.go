package tenantkafkareceiver

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/peertest"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// The records series is keyed by what the topic or, with a shared topic,
// the record key says, and that name reaches the pipeline as the trusted
// receiver's word for the tenant. Anyone who can write the topic writes
// the key: a key that is no tenant id (a path, 4 KiB, a space) must not
// become a series label nor a vouched-for identity; it is refused with a
// counted reason (or passed on without an identity).
func TestRecordKeyThatIsNoTenantID(t *testing.T) {
	r, s := handler(t, "tenancy.{signal}", false)
	keys := []string{"../globex", strings.Repeat("k", 4096), "acme globex"}
	for _, key := range keys {
		require.True(t, r.handle(t.Context(), &kgo.Record{Topic: "tenancy.logs", Key: []byte(key), Value: logsMessage(t, [2]string{"acme", "m"})}))
	}
	var series []string
	r.records.Range(func(k recordsKey, _ *atomic.Int64) {
		if policy.ValidateTenantID(k.tenant) != nil {
			series = append(series, k.tenant[:min(len(k.tenant), 20)])
		}
	})
	assert.Empty(t, series, "no invalid tenant id became a series")
	var dropped int64
	r.dropped.Range(func(_ string, n *atomic.Int64) { dropped += n.Load() })
	vouched := 0
	for _, g := range s.all() {
		if g.auth.Tenant != "" && policy.ValidateTenantID(g.auth.Tenant) != nil {
			vouched++
		}
	}
	assert.Zero(t, vouched, "no invalid tenant id reached the pipeline as the receiver's word")
	assert.EqualValues(t, len(keys), int64(len(s.all()))+dropped, "every record delivered or counted")
}

// blockingSink holds every batch until released, as a pipeline whose
// queue blocks does, whatever the context says.
type blockingSink struct {
	sink
	release chan struct{}
	entered chan struct{}
}

func (s *blockingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.release
	return s.sink.ConsumeLogs(ctx, ld)
}

// A Shutdown whose deadline passes while a batch is in the pipeline must
// still leave the group once that batch returns: a receiver that stays a
// member after the collector dropped it (sharedcomponent forgets it at its
// first Shutdown, and a reload builds a new one) keeps its partitions
// assigned and never polls them, so those tenants' topics stall.
func TestShutdownPastDeadlineLeavesTheGroup(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker, &kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "m1"})})
	cfg := testConfig(broker)
	cfg.GroupID = "stale"
	s := &blockingSink{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := startLogs(t, cfg, s)
	select {
	case <-s.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("no batch reached the pipeline")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	require.Error(t, l.Shutdown(ctx), "the deadline passed with a batch in the pipeline")
	close(s.release)

	cl, err := kgo.NewClient(kgo.SeedBrokers(broker))
	require.NoError(t, err)
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(15 * time.Second)
	for {
		groups, err := adm.DescribeGroups(t.Context(), cfg.GroupID)
		require.NoError(t, err)
		if g, ok := groups[cfg.GroupID]; ok && len(g.Members) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shut-down receiver is still a member of group %s", cfg.GroupID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cl.Close()
	// Having left, the receiver's client finishes closing in the
	// background: wait for it, or goleak at the end of a short run finds
	// its goroutines.
	for kgoRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the shut-down receiver's client never finished closing")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kgoRunning reports whether any franz-go client goroutine is alive.
func kgoRunning() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("franz-go/pkg/kgo.(*Client)"))
}
