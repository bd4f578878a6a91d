package tenantgatewayreceiver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenancyhq/tenancy/internal/access"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// TestH28yGRPCKeyRevokedAfterTheTapIsRefused (hostile review h28y of
// 4ad134e): the tap authenticates an Export stream when its headers
// arrive, and configgrpc's interceptor took that result as it was; the
// client chooses when it sends the message, so a stream opened with a key
// that a policy reload then revoked still exported, as the key's tenant,
// as long after the revocation as the client liked (any number of such
// streams, opened beforehand, up to max_concurrent_streams a connection).
// Before the tap, the key was checked once the message had arrived. A
// stream whose policy changed between the tap and the call is
// authenticated again against the policy in force.
func TestH28yGRPCKeyRevokedAfterTheTapIsRefused(t *testing.T) {
	const keyNew = "acme-gateway-test-key-00002"
	dir := t.TempDir()
	path := filepath.Join(dir, "tenants.yaml")
	require.NoError(t, os.WriteFile(path, []byte(policyWith(t, "", "")), 0o600))
	ext := h30PolicyExt(t, path)
	extID := component.MustNewID("tenantpolicy")
	host := extHost{Host: componenttest.NewNopHost(), exts: map[component.ID]component.Component{extID: ext}}

	g, s := h28gStartGRPCAuth(t, host, extID)
	conn := h27xRawConn(t, g)
	body := must(plogotlp.NewExportRequestFromLogs(testLogs(2, 1)).MarshalProto())

	// A stream opened with acme's key, its message not sent yet.
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-api-key", keyAcme), time.Minute)
	defer cancel()
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, h27xLogsExport, grpc.ForceCodecV2(h27xRaw{}))
	require.NoError(t, err)
	counts := ext.(interface {
		AccessCounts(string) (access.Counts, bool)
	})
	require.Eventually(t, func() bool { c, _ := counts.AccessCounts("acme"); return c.Requests == 1 },
		30*time.Second, 10*time.Millisecond, "the tap authenticated the stream")

	// The operator revokes the key (acme gets a new one).
	hashed, err := policy.HashAPIKey(keyNew)
	require.NoError(t, err)
	hg, err := policy.HashAPIKey(keyGlobex)
	require.NoError(t, err)
	revoked := "tenants:\n  acme:\n    identifiers: [acme]\n    api_keys: [\"" + hashed + "\"]\n  globex:\n    identifiers: [globex]\n    api_keys: [\"" + hg + "\"]\n"
	require.NoError(t, os.WriteFile(path, []byte(revoked), 0o600))
	provider := ext.(policy.Provider)
	require.Eventually(t, func() bool { _, ok := provider.Policy().TenantForKey(keyAcme); return !ok },
		30*time.Second, 10*time.Millisecond, "the reload revoked the key")

	// Now the client sends its message.
	require.NoError(t, stream.SendMsg(body))
	require.NoError(t, stream.CloseSend())
	var resp []byte
	err = stream.RecvMsg(&resp)
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "a key revoked before the message came is refused: %v", err)
	assert.Empty(t, s.all(), "nothing reached the pipeline under the revoked key")

	// The new key works, and a call within one policy is authenticated once.
	client := plogotlp.NewGRPCClient(conn)
	before, _ := counts.AccessCounts("acme")
	require.NoError(t, grpcExport(client, keyNew, plogotlp.NewExportRequestFromLogs(testLogs(2, 1))))
	after, _ := counts.AccessCounts("acme")
	assert.Equal(t, before.Requests+1, after.Requests, "one authentication per call")
	require.Len(t, s.all(), 1)
}
