package tenantgatewayreceiver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenancyhq/tenancy/extension/tenantpolicyextension"
	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// h30PolicyExt starts a tenantpolicy extension reading path, reloaded
// every 100 ms.
func h30PolicyExt(t *testing.T, path string) extension.Extension {
	t.Helper()
	ef := tenantpolicyextension.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*tenantpolicyextension.Config)
	ecfg.Path = path
	ecfg.ReloadInterval = 100 * time.Millisecond
	ext, err := ef.Create(context.Background(), extensiontest.NewNopSettings(ef.Type()), ecfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })
	return ext
}

// h30SendAfter opens an Export stream with acme's key (the tap
// authenticates it), runs between, then sends the message and returns the
// call's status code.
func h30SendAfter(t *testing.T, g *gateway, between func()) codes.Code {
	t.Helper()
	conn := h27xRawConn(t, g)
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", keyAcme), time.Minute)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
	require.NoError(t, err)
	between()
	require.NoError(t, stream.SendMsg(must(plogotlp.NewExportRequestFromLogs(testLogs(2, 1)).MarshalProto())))
	require.NoError(t, stream.CloseSend())
	var resp []byte
	return status.Code(stream.RecvMsg(&resp))
}

// h30RevokeAcmeAfterTheTap waits until the tenantpolicy extension ext
// counted the tap's authentication of acme's stream, then revokes acme's
// key in ext's policy file path and waits for the reload.
func h30RevokeAcmeAfterTheTap(t *testing.T, ext extension.Extension, path string) func() {
	return func() {
		counts := ext.(interface {
			AccessCounts(string) (access.Counts, bool)
		})
		require.Eventually(t, func() bool { c, _ := counts.AccessCounts("acme"); return c.Requests == 1 },
			30*time.Second, 10*time.Millisecond, "the tap authenticated the stream")
		hg, err := policy.HashAPIKey(keyGlobex)
		require.NoError(t, err)
		revoked := "tenants:\n  acme:\n    identifiers: [acme]\n  globex:\n    identifiers: [globex]\n    api_keys: [\"" + hg + "\"]\n"
		require.NoError(t, os.WriteFile(path, []byte(revoked), 0o600))
		require.Eventually(t, func() bool { _, ok := ext.(policy.Provider).Policy().TenantForKey(keyAcme); return !ok },
			30*time.Second, 10*time.Millisecond, "the reload revoked the key")
	}
}

// TestH30GRPCRevocationInTheAuthenticatorsOwnPolicy: the grpc: block's
// authenticator may be another tenantpolicy instance than the gateway's
// policy. The tap marked a stream with the gateway's policy, so a key the
// authenticator's policy revoked after the tap still exported: the
// gateway's policy had not changed, and the interceptor took the tap's
// result. The mark is now the authenticator's own policy.
func TestH30GRPCRevocationInTheAuthenticatorsOwnPolicy(t *testing.T) {
	dir := t.TempDir()
	gwPath, authPath := filepath.Join(dir, "gateway.yaml"), filepath.Join(dir, "auth.yaml")
	require.NoError(t, os.WriteFile(gwPath, []byte(policyWith(t, "", "")), 0o600))
	require.NoError(t, os.WriteFile(authPath, []byte(policyWith(t, "", "")), 0o600))
	gwExt, authExt := h30PolicyExt(t, gwPath), h30PolicyExt(t, authPath)
	authID := component.MustNewIDWithName("tenantpolicy", "grpc")
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{
		component.MustNewID("tenantpolicy"): gwExt, authID: authExt}}
	g, s := h28gStartGRPCAuth(t, host, authID)

	// The authenticator's policy revokes acme's key; the gateway's keeps it.
	code := h30SendAfter(t, g, h30RevokeAcmeAfterTheTap(t, authExt, authPath))
	assert.Equal(t, codes.Unauthenticated, code, "a key the authenticator revoked before the message came is refused")
	assert.Empty(t, s.all(), "nothing reached the pipeline under the revoked key")

	// Within one policy the tap's answer is taken, identity and all: the
	// call exports as its tenant, authenticated once.
	_, err := plogotlp.NewGRPCClient(h27xRawConn(t, g)).Export(
		metadata.AppendToOutgoingContext(context.Background(), "x-api-key", keyGlobex), plogotlp.NewExportRequestFromLogs(testLogs(1, 1)))
	require.NoError(t, err)
	got := s.all()
	require.Len(t, got, 1)
	assert.Equal(t, "globex", got[0].tenant)
	c, _ := authExt.(interface {
		AccessCounts(string) (access.Counts, bool)
	}).AccessCounts("globex")
	assert.EqualValues(t, 1, c.Requests, "one authentication per call")
}

// h30Fallback is an authenticator that asks the one it wraps and, when
// that refuses, lets the call through without naming a tenant (as a
// chain of authenticators might; it is not a policy.Authenticator).
type h30Fallback struct {
	component.StartFunc
	component.ShutdownFunc
	next extensionauth.Server
}

func (a h30Fallback) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	if actx, err := a.next.Authenticate(ctx, sources); err == nil {
		return actx, nil
	}
	return ctx, nil
}

// TestH30GRPCAskedAgainWithoutTheTapsIdentity (hostile review h30): the
// tap put the authenticator's identity in the stream's context, and the
// call authenticated again started from that context, so an
// authenticator that then accepted without naming a tenant left the
// tap's in place: a key revoked between the tap and the message exported
// as its tenant. Asked again, a call starts without the tap's identity.
func TestH30GRPCAskedAgainWithoutTheTapsIdentity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policyWith(t, "", "")), 0o600))
	pext := h30PolicyExt(t, path)
	authID := component.MustNewID("fallback")
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{
		component.MustNewID("tenantpolicy"): pext, authID: h30Fallback{next: pext.(extensionauth.Server)}}}
	g, s := h28gStartGRPCAuth(t, host, authID)

	code := h30SendAfter(t, g, h30RevokeAcmeAfterTheTap(t, pext, path))
	assert.Equal(t, codes.Unauthenticated, code, "no tenant named at the call: refused")
	assert.Empty(t, s.all(), "nothing exported as acme under its revoked key")
}

// h30Switchable is an authenticator that is not a tenantpolicy extension
// (it serves no policy): it asks the one it wraps until told to refuse.
type h30Switchable struct {
	component.StartFunc
	component.ShutdownFunc
	next   extensionauth.Server
	refuse atomic.Bool
	calls  atomic.Int64
}

func (a *h30Switchable) Authenticate(ctx context.Context, sources map[string][]string) (context.Context, error) {
	a.calls.Add(1)
	if a.refuse.Load() {
		return ctx, errors.New("credential withdrawn")
	}
	return a.next.Authenticate(ctx, sources)
}

// h30SwitchableProvider is h30Switchable that also serves the policy of
// the extension it wraps, without declaring that it decides by that
// policy alone (policy.Authenticator): its switch is a decision of its own.
type h30SwitchableProvider struct {
	*h30Switchable
	p policy.Provider
}

func (a h30SwitchableProvider) Policy() *policy.Policy { return a.p.Policy() }

// TestH30GRPCOtherAuthenticatorsDecideAtTheCall: with an authenticator
// that does not declare it decides by its policy alone, nothing tells the
// interceptor whether its decision at the tap still holds, so it asks
// again; also when it serves a policy (hostile review h30: any
// policy.Provider was trusted to decide by it alone), and when it embeds
// a tenantpolicy extension (h31Embedding: the declaration was a marker
// method, which the wrapper inherited, so its own refusal at the call was
// skipped; it now names the authenticator that makes it).
func TestH30GRPCOtherAuthenticatorsDecideAtTheCall(t *testing.T) {
	for _, shape := range []string{"serves no policy", "serves a policy", "embeds the tenantpolicy extension"} {
		t.Run(shape, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tenants.yaml")
			require.NoError(t, os.WriteFile(path, []byte(policyWith(t, "", "")), 0o600))
			pext := h30PolicyExt(t, path)
			sw := &h30Switchable{next: pext.(extensionauth.Server)}
			var auth component.Component
			switch shape {
			case "serves no policy":
				auth = sw
			case "serves a policy":
				auth = h30SwitchableProvider{h30Switchable: sw, p: pext.(policy.Provider)}
			default:
				auth = &h31Embedding{Authenticator: pext.(policy.Authenticator), h30Switchable: sw}
			}
			_, trusted := policy.ByPolicyAlone(auth)
			require.False(t, trusted, "it did not declare it")
			authID := component.MustNewID("switchable")
			host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{
				component.MustNewID("tenantpolicy"): pext, authID: auth}}
			g, s := h28gStartGRPCAuth(t, host, authID)

			code := h30SendAfter(t, g, func() {
				require.Eventually(t, func() bool { return sw.calls.Load() == 1 }, 30*time.Second, 10*time.Millisecond, "the tap authenticated the stream")
				sw.refuse.Store(true)
			})
			assert.Equal(t, codes.Unauthenticated, code, "the authenticator's refusal at the call holds")
			assert.Empty(t, s.all())

			// Still allowed, the call exports.
			sw.refuse.Store(false)
			assert.Equal(t, codes.OK, h30SendAfter(t, g, func() {}))
			assert.Len(t, s.all(), 1)
		})
	}
}

// h30NoPolicyYet serves no policy, as a tenantpolicy extension before its
// first load.
type h30NoPolicyYet struct {
	component.StartFunc
	component.ShutdownFunc
}

func (h30NoPolicyYet) Policy() *policy.Policy { return nil }

// TestH30GRPCTapNoPolicyIsRetryable: a stream refused at the tap because
// no policy is loaded yet says when to try again, as the same refusal
// does everywhere else in the gateway.
func TestH30GRPCTapNoPolicyIsRetryable(t *testing.T) {
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{component.MustNewID("tenantpolicy"): h30NoPolicyYet{}}}
	g, s := h28gStartGRPCAuth(t, host, component.ID{}) // no authenticator: the tap identifies by certificate

	_, err := plogotlp.NewGRPCClient(h27xRawConn(t, g)).Export(context.Background(), plogotlp.NewExportRequestFromLogs(testLogs(1, 1)))
	st := status.Convert(err)
	require.Equal(t, codes.Unavailable, st.Code(), "%v", err)
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	require.NotNil(t, retry, "the refusal carries RetryInfo: %v", st.Details())
	assert.Equal(t, time.Second, retry.GetRetryDelay().AsDuration())
	assert.Empty(t, s.all())
}
