package tenantprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/tenancyhq/tenancy/internal/identity"
)

// A message's topic binds its tenant only when the processor trusts the
// receiver that read it: then a resource claiming another tenant is
// spoofed, as at the edge; untrusted, the topic counts for nothing.
func TestTrustedReceivers(t *testing.T) {
	topic := identity.AuthData{Tenant: "acme", Source: identity.SourceKafkaTopic, Credential: "topic:tenancy.acme.logs", Receiver: "tenantkafka"}
	for _, tc := range []struct {
		name    string
		trusted []component.ID
		auth    identity.AuthData
		want    []string
	}{
		{"trusted", []component.ID{component.MustNewID("tenantkafka")}, topic,
			[]string{"acme", "acme", "_quarantine/spoofed/globex"}},
		{"not_trusted", nil, topic,
			[]string{"_quarantine/missing/", "_quarantine/unverified/acme", "_quarantine/unverified/globex"}},
		{"another_receiver_trusted", []component.ID{component.MustNewIDWithName("tenantkafka", "other")}, topic,
			[]string{"_quarantine/missing/", "_quarantine/unverified/acme", "_quarantine/unverified/globex"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := goldenCase{}.config()
			cfg.TrustedReceivers = tc.trusted
			sink := new(consumertest.LogsSink)
			p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(NewFactory().Type()), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(context.Background(), newHost(t, loadTestPolicy(t))))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()
			ctx := client.NewContext(context.Background(), client.Info{Auth: tc.auth})
			require.NoError(t, p.ConsumeLogs(ctx, buildLogs(t, []map[string]any{res(), res("tenant.id", "acme"), res("tenant.id", "globex")})))
			got := sink.AllLogs()[0]
			assert.Equal(t, tc.want, decisions(t, testSecret, func(i int) pcommon.Map { return got.ResourceLogs().At(i).Resource().Attributes() }, got.ResourceLogs().Len()))
			if tc.trusted != nil && tc.name == "trusted" {
				spoof := got.ResourceLogs().At(2).Resource().Attributes()
				cred, _ := spoof.Get(identity.AttrCredential)
				auth, _ := spoof.Get(identity.AttrAuthenticated)
				assert.Equal(t, "topic:tenancy.acme.logs", cred.Str(), "the spoof names the topic it came in")
				assert.Equal(t, "acme", auth.Str())
			}
		})
	}
}
