package tenantgatewayreceiver

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// inFlightCost is what a request of body counts in flight: its size and
// its decode cost.
func inFlightCost(t *testing.T, body []byte) int64 {
	cost, herr := checkRequestCost(otlpProto(signalLogs), body, 1<<40)
	require.Nil(t, herr)
	return int64(len(body)) + cost
}

// TestInFlightBytesBoundEveryTenant: while acme's request is held in the
// pipeline, globex's request that would take the requests being decoded
// over max_in_flight_bytes is refused with 503 and Retry-After (not
// decoded), one that fits in what is left passes, and globex's first
// request passes once acme's is through; a request over the bound alone
// is refused with 413.
func TestInFlightBytesBoundEveryTenant(t *testing.T) {
	big := must(plogotlp.NewExportRequestFromLogs(testLogs(2000, 4)).MarshalProto())
	small := must(plogotlp.NewExportRequestFromLogs(testLogs(10, 4)).MarshalProto())
	bigCost, smallCost := inFlightCost(t, big), inFlightCost(t, small)

	host, extID := startPolicyHost(t, policyWith(t, "", ""))
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: extID}})
	cfg.MaxInFlightBytes = bigCost + bigCost/2 // one big request, not two; a big and a small one
	require.Greater(t, cfg.MaxInFlightBytes, bigCost+smallCost)
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
		first = tg.post(t, "/v1/logs", keyAcme, big, "Content-Type", ctProto)
	}()
	<-held.entered
	assert.Equal(t, bigCost, g.inFlight.used.Load(), "the held request counts its body and decode cost")

	busy := tg.post(t, "/v1/logs", keyGlobex, big, "Content-Type", ctProto)
	assert.Equal(t, http.StatusServiceUnavailable, busy.status, busy.body)
	assert.Contains(t, busy.body, "max_in_flight_bytes")
	assert.Equal(t, "1", busy.retryAfter)
	fits := tg.post(t, "/v1/logs", keyGlobex, small, "Content-Type", ctProto)
	assert.Equal(t, http.StatusOK, fits.status, fits.body)

	close(held.release)
	wg.Wait()
	assert.Equal(t, http.StatusOK, first.status, first.body)
	again := tg.post(t, "/v1/logs", keyGlobex, big, "Content-Type", ctProto)
	assert.Equal(t, http.StatusOK, again.status, again.body)
	assert.Zero(t, g.inFlight.used.Load(), "every request gave its room back")
	assert.Equal(t, 2*2000+10, sink.LogRecordCount())

	g.inFlight.max = bigCost - 1
	alone := tg.post(t, "/v1/logs", keyGlobex, big, "Content-Type", ctProto)
	assert.Equal(t, http.StatusRequestEntityTooLarge, alone.status, alone.body)
	assert.Contains(t, alone.body, "over the gateway's max_in_flight_bytes")
}

// TestInFlightRoomIsGivenBackOnEveryOutcome: refused, failed and accepted
// requests from many goroutines leave nothing counted.
func TestInFlightRoomIsGivenBackOnEveryOutcome(t *testing.T) {
	tg := startGateway(t, policyWith(t, "max_attributes_per_record: 3", ""), func(c *Config) { c.MaxInFlightBytes = 4 << 20 })
	ok := must(plogotlp.NewExportRequestFromLogs(testLogs(50, 2)).MarshalProto())
	wide := must(plogotlp.NewExportRequestFromLogs(testLogs(50, 8)).MarshalProto())
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := ok
			if i%2 == 1 {
				body = wide // refused after decoding: too many attributes
			}
			for range 10 {
				tg.post(t, "/v1/logs", keyAcme, body, "Content-Type", ctProto)
			}
		}()
	}
	wg.Wait()
	assert.Zero(t, tg.g.inFlight.used.Load())
}

// TestInFlightCountsRemoteWriteConversion: a remote write series' labels
// copied to each sample are counted in flight before they are made (the
// scan alone does not see them): a request whose body and scan fit but
// whose conversion does not is refused with 413, before converting.
func TestInFlightCountsRemoteWriteConversion(t *testing.T) {
	ts := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: "m"}}}
	for i := range 200 {
		ts.Labels = append(ts.Labels, prompb.Label{Name: fmt.Sprint("l", i), Value: "v"})
	}
	ts.Samples = make([]prompb.Sample, 2000)
	pb := must((&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{ts}}).Marshal())
	scan, herr := checkRequestCost(remoteWrite, pb, 1<<40)
	require.Nil(t, herr)
	conversion, err := checkRemoteWriteSeries([]prompb.TimeSeries{ts}, decodeLimits{})
	require.NoError(t, err)
	require.Greater(t, conversion, scan, "the labels' copies are most of the cost")
	for _, tt := range []struct {
		max  int64
		want int
	}{
		{int64(len(pb)) + scan + conversion, http.StatusNoContent},
		{int64(len(pb)) + scan + conversion/2, http.StatusRequestEntityTooLarge},
	} {
		tg := startGateway(t, policyWith(t, "max_attributes_per_record: 256", ""), func(c *Config) { c.MaxInFlightBytes = tt.max })
		r := tg.post(t, "/api/v1/push", keyAcme, snappy.Encode(nil, pb), "Content-Type", ctProto, "Content-Encoding", "snappy")
		assert.Equal(t, tt.want, r.status, r.body)
		assert.Zero(t, tg.g.inFlight.used.Load())
	}
}
