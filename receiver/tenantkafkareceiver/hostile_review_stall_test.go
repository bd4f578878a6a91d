package tenantkafkareceiver

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/peertest"
)

// refusingSink refuses one tenant's batches with a retryable error, as the
// router does while that tenant's queue is full (its backend is down), and
// accepts everyone else's.
type refusingSink struct {
	sink
	tenant  string
	refused atomic.Int64
}

func (s *refusingSink) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if a, _ := identity.AuthFromContext(ctx); a.Tenant == s.tenant {
		s.refused.Add(1)
		return errors.New("tenant acme, backend store: queue is full")
	}
	return s.sink.ConsumeLogs(ctx, ld)
}

// One tenant's full queue must not stop the processing tier from reading
// every other tenant's topic: the router keeps a queue per tenant so that
// a dead backend delays only its tenant, and the receiver in front of it
// must not turn acme's retryable refusal into a stall of globex's data.
func TestOneTenantsRefusalDoesNotStallOthers(t *testing.T) {
	broker := peertest.StartKafka(t)
	produce(t, broker, &kgo.Record{Topic: "tenancy.acme.logs", Value: logsMessage(t, [2]string{"acme", "a1"})})
	cfg := testConfig(broker)
	cfg.GroupID = "noisy"
	s := &refusingSink{tenant: "acme"}
	l := startLogs(t, cfg, s)
	t.Cleanup(func() { assert.NoError(t, l.Shutdown(context.Background())) })
	eventually(t, "acme refused twice", func() bool { return s.refused.Load() >= 2 })

	produce(t, broker, &kgo.Record{Topic: "tenancy.globex.logs", Value: logsMessage(t, [2]string{"globex", "g1"})})
	deadline := time.Now().Add(10 * time.Second)
	for len(s.all()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("globex's record waited 10s behind acme's refused one (%d refusals)", s.refused.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, "globex", s.all()[0].auth.Tenant)
}
