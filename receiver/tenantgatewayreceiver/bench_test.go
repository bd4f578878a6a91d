package tenantgatewayreceiver

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
)

// The benchmarks send the same requests over loopback HTTP, one at a time
// on a kept-alive connection, and report records/s. The baseline is the
// stock otlp receiver with the same authenticator on the same payload.

const benchRecords = 100

func benchPolicy(t testing.TB) string { return policyWith(t, "", "") }

func runBench(b *testing.B, url, key, contentType string, body []byte, wantStatus int, headers ...string) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", contentType)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(b.N*benchRecords)/time.Since(start).Seconds(), "records/s")
}

func BenchmarkOTLPHTTPLogs(b *testing.B) {
	body := logsProto(b, testLogs(benchRecords, 5))
	b.Run("tenantgateway", func(b *testing.B) {
		tg := startGateway(b, benchPolicy(b))
		runBench(b, tg.url+"/v1/logs", keyAcme, ctProto, body, http.StatusOK)
	})
	b.Run("otlpreceiver", func(b *testing.B) {
		host, extID := startPolicyHost(b, benchPolicy(b))
		f := otlpreceiver.NewFactory()
		cfg := f.CreateDefaultConfig().(*otlpreceiver.Config)
		addr := freeAddr(b)
		httpCfg := otlpreceiver.HTTPConfig{ServerConfig: confighttp.NewDefaultServerConfig(), LogsURLPath: "/v1/logs", MetricsURLPath: "/v1/metrics", TracesURLPath: "/v1/traces"}
		httpCfg.ServerConfig.NetAddr.Endpoint = addr
		httpCfg.ServerConfig.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: extID}})
		cfg.Protocols.HTTP = configoptional.Some(httpCfg)
		cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
		r, err := f.CreateLogs(context.Background(), receivertest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
		require.NoError(b, err)
		require.NoError(b, r.Start(context.Background(), host))
		b.Cleanup(func() { _ = r.Shutdown(context.Background()) })
		runBench(b, "http://"+addr+"/v1/logs", keyAcme, ctProto, body, http.StatusOK)
	})
}

func BenchmarkLokiPush(b *testing.B) {
	req := push.PushRequest{Streams: []push.Stream{{Labels: `{job="shop", env="prod"}`}}}
	for i := range benchRecords {
		req.Streams[0].Entries = append(req.Streams[0].Entries, push.Entry{
			Timestamp: lokiTime.Add(time.Duration(i)), Line: "record: something happened in the shop",
			StructuredMetadata: push.LabelsAdapter{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}})
	}
	pb, err := req.Marshal()
	require.NoError(b, err)
	tg := startGateway(b, benchPolicy(b))
	runBench(b, tg.url+"/loki/api/v1/push", keyAcme, ctProto, snappy.Encode(nil, pb), http.StatusNoContent)
}

func BenchmarkRemoteWrite(b *testing.B) {
	var req prompb.WriteRequest
	for i := range benchRecords {
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels: []prompb.Label{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: string(rune('a' + i%26))},
				{Name: "instance", Value: "10.0.0.1:9090"}, {Name: "job", Value: "shop"}, {Name: "path", Value: "/x"}},
			Samples: []prompb.Sample{{Value: float64(i), Timestamp: 1}},
		})
	}
	pb, err := req.Marshal()
	require.NoError(b, err)
	tg := startGateway(b, benchPolicy(b))
	runBench(b, tg.url+"/api/v1/push", keyAcme, ctProto, snappy.Encode(nil, pb), http.StatusNoContent, "Content-Encoding", "snappy")
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}
