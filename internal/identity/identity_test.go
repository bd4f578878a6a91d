package identity

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
)

// The auth data and the resource name the tenant alike, "tenant.id": the
// literal here is the wire contract collector configs are written against.
func TestTenantIDNamedOnceOnTheWire(t *testing.T) {
	a := AuthData{Tenant: "acme", Source: SourceAPIKey}
	assert.Equal(t, "acme", a.GetAttribute("tenant.id"))
	assert.Contains(t, a.GetAttributeNames(), "tenant.id")

	ctx := client.NewContext(context.Background(), client.Info{Auth: a})
	got, src, ok := FromContext(ctx)
	require.True(t, ok)
	assert.Equal(t, "acme", got)
	assert.Equal(t, SourceAPIKey, src)
	assert.True(t, PipelineKey("tenant.id"))
}
