package tenantgatewayreceiver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"google.golang.org/grpc/codes"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// h31Embedding wraps a tenantpolicy extension by embedding it as a
// policy.Authenticator, so it inherits AuthenticatesByPolicyAlone, and
// adds a check of its own (h30Switchable's switch).
type h31Embedding struct {
	policy.Authenticator
	*h30Switchable
}

// TestH31GRPCEmbeddingTheDeclarationDoesNotInheritIt (carried from stop
// 30): policy.Authenticator was a marker method, which a wrapper embedding
// the tenantpolicy extension inherited, so its own check at the call was
// skipped and a credential it withdrew after the tap still exported. The
// declaration now names the authenticator that makes it.
func TestH31GRPCEmbeddingTheDeclarationDoesNotInheritIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policyWith(t, "", "")), 0o600))
	pext := h30PolicyExt(t, path)
	sw := &h30Switchable{next: pext.(extensionauth.Server)}
	wrapper := &h31Embedding{Authenticator: pext.(policy.Authenticator), h30Switchable: sw}
	_, trusted := policy.ByPolicyAlone(wrapper)
	require.False(t, trusted, "the wrapper did not declare it")
	_, trusted = policy.ByPolicyAlone(pext)
	require.True(t, trusted, "the tenantpolicy extension declares it")

	authID := component.MustNewID("embedding")
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{
		component.MustNewID("tenantpolicy"): pext, authID: wrapper}}
	g, s := h28gStartGRPCAuth(t, host, authID)

	code := h30SendAfter(t, g, func() {
		require.Eventually(t, func() bool { return sw.calls.Load() == 1 }, 30*time.Second, 10*time.Millisecond, "the tap authenticated the stream")
		sw.refuse.Store(true)
	})
	assert.Equal(t, codes.Unauthenticated, code, "the wrapper's own refusal at the call holds")
	assert.Empty(t, s.all())
}
