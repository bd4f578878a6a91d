package tenantkafka

import (
	"math/rand/v2"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// A topic names exactly one (tenant, signal): whatever the template and
// the tenant ids (which may hold the template's own separators, or a
// signal's name), Parse gives back the tenant and signal Topic was given,
// no two pairs share a topic, and a consumer of the policy tenants' topics
// never matches a pipeline tenant's topic, nor the reverse.
func TestTopicNamesOneTenant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const chars = "abcXYZ019.-_"
	ids := []string{"acme", "acme.logs", "acme.logs.logs", "logs", "metrics", "a-metrics", "a_traces", ".acme", "acme.", "-", "a..b"}
	for range 300 {
		b := make([]byte, 1+rng.IntN(12))
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		ids = append(ids, string(b))
	}
	sigs := []policy.Signal{policy.SignalLogs, policy.SignalMetrics, policy.SignalTraces}
	for _, tmpl := range []string{DefaultTopic, "{tenant}{signal}", "{signal}{tenant}", "t-{tenant}-{signal}", "{signal}.{tenant}.x", "tenancy.{signal}"} {
		topics, err := NewTopics(tmpl)
		require.NoError(t, err, tmpl)
		tenantRe := regexp.MustCompile(topics.Regex(false, sigs...))
		reservedRe := regexp.MustCompile(topics.Regex(true, sigs...))
		owner := map[string][2]string{}
		for _, id := range ids {
			if policy.ValidateTenantID(id) != nil {
				continue
			}
			for _, sig := range sigs {
				topic, err := topics.Topic(id, sig)
				if err != nil {
					continue // not a Kafka name: the router refuses it, counted
				}
				want := id
				if !topics.PerTenant() {
					want = ""
				}
				gotTenant, gotSig, ok := topics.Parse(topic)
				require.True(t, ok, "%s: %s", tmpl, topic)
				assert.Equal(t, want, gotTenant, "%s: %s", tmpl, topic)
				assert.Equal(t, sig, gotSig, "%s: %s", tmpl, topic)
				if prev, dup := owner[topic]; dup && topics.PerTenant() {
					assert.Equal(t, prev, [2]string{id, string(sig)}, "%s: two tenants share %s", tmpl, topic)
				}
				owner[topic] = [2]string{id, string(sig)}
				// "_" alone is reserved and no pipeline tenant: neither
				// consumer reads it, which is fine.
				if topics.PerTenant() && id != "_" {
					assert.Equal(t, !policy.IsReserved(id), tenantRe.MatchString(topic), "%s: tenant consumer on %s", tmpl, topic)
					assert.Equal(t, policy.IsReserved(id), reservedRe.MatchString(topic), "%s: reserved consumer on %s", tmpl, topic)
				}
			}
		}
	}
}
