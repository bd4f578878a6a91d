package tenantrouterexporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"

	"github.com/golang/snappy"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/prometheusremotewrite"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/tenancyhq/tenancy/internal/policy"
)

// remoteWriteBackend sends metrics as Prometheus remote write 1.0
// (protobuf, snappy) with the tenant in the tenant header: Mimir, Cortex,
// Prometheus, VictoriaMetrics. It takes metrics only.
type remoteWriteBackend struct{ httpTransport }

func newRemoteWriteBackend(name string, cfg *BackendConfig) *remoteWriteBackend {
	return &remoteWriteBackend{newHTTPTransport(name, cfg)}
}

func (w *remoteWriteBackend) send(ctx context.Context, tenant string, b batch) error {
	if b.signal != policy.SignalMetrics {
		return consumererror.NewPermanent(fmt.Errorf("remote write takes metrics, not %s", b.signal))
	}
	series, err := prometheusremotewrite.FromMetrics(b.metrics, prometheusremotewrite.Settings{AddMetricSuffixes: true})
	if err != nil && len(series) == 0 {
		return consumererror.NewPermanent(fmt.Errorf("translate to remote write: %w", err))
	}
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(series))}
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		req.Timeseries = append(req.Timeseries, *series[k])
	}
	raw, err := req.Marshal()
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.Endpoint, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	hr.Header.Set("Content-Encoding", "snappy")
	hr.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	return w.do(hr, tenant)
}
