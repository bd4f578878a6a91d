package tenantrouterexporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/golang/snappy"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/prometheusremotewrite"
	"github.com/prometheus/prometheus/prompb"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/tenancyhq/tenancy/internal/identity"
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
	series, err := prometheusremotewrite.FromMetrics(withoutLineage(b.metrics), prometheusremotewrite.Settings{AddMetricSuffixes: true})
	if err != nil {
		w.untranslated(tenant, err)
		if len(series) == 0 {
			return consumererror.NewPermanent(fmt.Errorf("translate to remote write: %w", err))
		}
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

// Reasons a metric could not be translated to remote write, the reason
// label of metrics_untranslated.
const (
	untranslatedTemporality = "invalid_temporality" // e.g. a delta sum or histogram
	untranslatedEmpty       = "empty_data_points"
	untranslatedOther       = "untranslatable"
)

var untranslatedReasons = [...]string{untranslatedTemporality, untranslatedEmpty, untranslatedOther}

// untranslated counts and logs the metrics the translator dropped, one
// error each; the rest of the batch is still sent.
func (w *remoteWriteBackend) untranslated(tenant string, err error) {
	errs := []error{err}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		errs = u.Unwrap()
	}
	st := w.router.tel.of(tenant, w.name)
	for _, e := range errs {
		msg := e.Error()
		i := 2
		switch {
		case strings.HasPrefix(msg, "invalid temporality"):
			i = 0
		case strings.HasPrefix(msg, "empty data points"):
			i = 1
		}
		st.untranslated[i].Add(1)
	}
	w.router.logger.Warn("metrics not translatable to remote write were not sent", zap.String("tenant", tenant),
		zap.String("backend", w.name), zap.Int("metrics", len(errs)), zap.Error(err))
}

// withoutLineage is md without its resources' tenant.lineage, copied when
// any has one (the batch is shared with the other backends' queues): the
// translator makes every resource attribute a target_info label, and a
// per-request id there would make a new series of every request.
func withoutLineage(md pmetric.Metrics) pmetric.Metrics {
	has := false
	for _, rm := range md.ResourceMetrics().All() {
		if _, ok := rm.Resource().Attributes().Get(identity.AttrLineage); ok {
			has = true
			break
		}
	}
	if !has {
		return md
	}
	out := pmetric.NewMetrics()
	md.CopyTo(out)
	for _, rm := range out.ResourceMetrics().All() {
		rm.Resource().Attributes().Remove(identity.AttrLineage)
	}
	return out
}
