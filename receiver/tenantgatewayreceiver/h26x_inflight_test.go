package tenantgatewayreceiver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// TestH26xLokiJSONCountsItsCostInFlight: a Loki JSON push held in the
// pipeline counts in max_in_flight_bytes what its decoding was checked
// against (lokiJSONCost: its entries' arrays, objects and keys), not the
// OTLP object count, which sees none of its entries: 10,000 entries
// counted 512 bytes of cost where decoding them takes about 4 MB.
func TestH26xLokiJSONCountsItsCostInFlight(t *testing.T) {
	values := make([]string, 10_000)
	for i := range values {
		values[i] = fmt.Sprintf(`["%d","GET /v1/item/%d 200"]`, 1_700_000_000_000_000_000+i, i)
	}
	body := []byte(`{"streams":[{"stream":{"job":"api"},"values":[` + strings.Join(values, ",") + `]}]}`)

	host, extID := startPolicyHost(t, policyWith(t, "records_per_second: 100000000", ""))
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: extID}})
	sink := new(consumertest.LogsSink)
	held := blockingLogs{next: sink, held: &atomic.Bool{}, entered: make(chan struct{}, 1), release: make(chan struct{})}
	r, err := NewFactory().CreateLogs(context.Background(), receivertest.NewNopSettings(typ), cfg, held)
	require.NoError(t, err)
	require.NoError(t, r.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	g := unwrap(r)
	tg := &testGateway{url: "http://" + g.addr.String(), g: g}

	var wg sync.WaitGroup
	var first response
	wg.Add(1)
	go func() {
		defer wg.Done()
		first = tg.post(t, "/loki/api/v1/push", keyAcme, body, "Content-Type", ctJSON)
	}()
	<-held.entered
	want := int64(len(body)) + lokiJSONCost(body)
	assert.GreaterOrEqual(t, g.inFlight.used.Load(), want, "the held push counts its body and its decode cost")
	close(held.release)
	wg.Wait()
	assert.Equal(t, http.StatusNoContent, first.status, first.body)
	assert.Zero(t, g.inFlight.used.Load())
	assert.Equal(t, len(values), sink.LogRecordCount())
}
