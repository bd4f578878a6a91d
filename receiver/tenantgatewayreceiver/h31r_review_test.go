package tenantgatewayreceiver

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// Hostile review h31r of d1b830c.

// TestH31rGRPCTheExtensionAsTheCollectorBuildsItIsTrusted: the
// tenantpolicy extension as its factory makes it (the collector's service
// puts the factory's result in the host's map, unwrapped) is still taken
// at its word; the tapAuth the gateway hands configgrpc, given back to
// grpcServerSetup, is not (and does not panic).
func TestH31rGRPCTheExtensionAsTheCollectorBuildsItIsTrusted(t *testing.T) {
	host, extID := startPolicyHost(t, policyWith(t, "", ""))
	tp, wrapped, err := h31rSetup(extID, host.GetExtensions())
	require.NoError(t, err)
	require.NotNil(t, tp.authPolicy, "the tenantpolicy extension decides by its policy alone")
	assert.NotNil(t, policyOf(tp.authPolicy))

	_, ok := policy.ByPolicyAlone(wrapped[extID])
	assert.False(t, ok, "tapAuth is not the authenticator")
	tp2, _, err := h31rSetup(extID, wrapped)
	require.NoError(t, err)
	assert.Nil(t, tp2.authPolicy)
}

// h31rSetup is the gateway's gRPC setup with authID as the grpc: block's
// authenticator among exts.
func h31rSetup(authID component.ID, exts map[component.ID]component.Component) (*grpcTap, map[component.ID]component.Component, error) {
	gc := configgrpc.NewDefaultServerConfig()
	gc.Auth = configoptional.Some(configauth.Config{AuthenticatorID: authID})
	_, tp, wrapped, err := (&gateway{}).grpcServerSetup(context.Background(), gc, exts)
	return tp, wrapped, err
}

// h31rOptionalInner is an authenticator that wraps a tenantpolicy
// extension when one is given and decides alone otherwise; it embeds the
// interface for the extension's Policy (as h31Embedding does).
type h31rOptionalInner struct {
	policy.Authenticator
	component.StartFunc
	component.ShutdownFunc
}

func (a *h31rOptionalInner) Authenticate(ctx context.Context, _ map[string][]string) (context.Context, error) {
	return ctx, errors.New("refused")
}

// TestH31rGRPCSetupDoesNotPanicOnAWrapperWithoutItsInner: with such a
// wrapper and no inner, ByPolicyAlone calls the promoted method on the nil
// interface and the receiver's Start panics, taking the collector down.
// (Before d1b830c the type assertion passed and the tap's Policy() call
// panicked instead, on the connection's reading goroutine at the first
// stream: not a regression, but ByPolicyAlone, which takes care not to
// panic, should say "not trusted" here.)
func TestH31rGRPCSetupDoesNotPanicOnAWrapperWithoutItsInner(t *testing.T) {
	authID := component.MustNewID("optional")
	exts := map[component.ID]component.Component{authID: &h31rOptionalInner{}}
	var tp *grpcTap
	var err error
	require.NotPanics(t, func() { tp, _, err = h31rSetup(authID, exts) })
	require.NoError(t, err)
	assert.Nil(t, tp.authPolicy)
}
