package tenantkafka

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tenancyhq/tenancy/internal/policy"
)

type countingListener struct{ assigned, revoked, lost int }

func (c *countingListener) Assigned()                         { c.assigned++ }
func (c *countingListener) Revoked(context.Context, []Stream) { c.revoked++ }
func (c *countingListener) Lost([]Stream)                     { c.lost++ }

// TestHandoverByGroup: a listener hears its own consumer group only, and
// nothing once unsubscribed; an empty hand-over is not announced.
func TestHandoverByGroup(t *testing.T) {
	a, b := &countingListener{}, &countingListener{}
	unA := Subscribe("group-a", a)
	unB := Subscribe("group-b", b)
	defer unB()
	s := []Stream{{Tenant: "acme", Signal: policy.SignalLogs}}
	AnnounceAssigned("group-a")
	AnnounceRevoked(context.Background(), "group-a", s)
	AnnounceRevoked(context.Background(), "group-a", nil)
	AnnounceLost("group-a", s)
	assert.Equal(t, countingListener{1, 1, 1}, *a)
	assert.Equal(t, countingListener{}, *b)
	unA()
	AnnounceAssigned("group-a")
	assert.Equal(t, 1, a.assigned)
}
