package tenantrouterexporter

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// DefaultStreamLabels are the resource attributes a loki backend makes
// stream labels when stream_labels is not set.
var DefaultStreamLabels = []string{"service.name"}

// lokiBackend sends logs as a Loki push request (protobuf, snappy): Loki,
// VictoriaLogs (/insert/loki/api/v1/push). Stream labels come from a short
// list of resource attributes, so a tenant's stream count stays bounded;
// every other attribute travels as structured metadata.
type lokiBackend struct {
	httpTransport
	labels []string
}

func newLokiBackend(name string, cfg *BackendConfig) *lokiBackend {
	labels := cfg.StreamLabels
	if len(labels) == 0 {
		labels = DefaultStreamLabels
	}
	return &lokiBackend{httpTransport: newHTTPTransport(name, cfg), labels: labels}
}

// labelName makes an attribute key a valid Prometheus/Loki label name.
func labelName(k string) string {
	var b strings.Builder
	for i, r := range k {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// toPush groups a tenant's logs into streams by their label set.
func (l *lokiBackend) toPush(ld plog.Logs) *push.PushRequest {
	streams := map[string]*push.Stream{}
	var order []string
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		res := rl.Resource().Attributes()
		var pairs []string
		isLabel := map[string]bool{}
		for _, k := range l.labels {
			isLabel[k] = true
			if v, ok := res.Get(k); ok && v.AsString() != "" {
				pairs = append(pairs, labelName(k)+"="+strconv.Quote(v.AsString()))
			}
		}
		if len(pairs) == 0 { // Loki needs at least one label
			pairs = append(pairs, `service_name="unknown_service"`)
		}
		sort.Strings(pairs)
		key := "{" + strings.Join(pairs, ", ") + "}"
		st, ok := streams[key]
		if !ok {
			st = &push.Stream{Labels: key}
			streams[key] = st
			order = append(order, key)
		}
		var resMeta push.LabelsAdapter
		res.Range(func(k string, v pcommon.Value) bool {
			switch {
			case isLabel[k]:
			case k == identity.AttrLineage:
				// Structured metadata is per line: the request's id
				// matches a line to the store's lineage, the rest of the
				// request's facts would cost every line hundreds of bytes.
				if id := identity.LineageIDOf(v.AsString()); id != "" {
					resMeta = append(resMeta, push.LabelAdapter{Name: labelName(k + ".id"), Value: id})
				}
			default:
				resMeta = append(resMeta, push.LabelAdapter{Name: labelName(k), Value: v.AsString()})
			}
			return true
		})
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			lrs := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				when := ts.AsTime()
				if ts == 0 {
					when = time.Now()
				}
				meta := append(push.LabelsAdapter(nil), resMeta...)
				lr.Attributes().Range(func(k string, v pcommon.Value) bool {
					meta = append(meta, push.LabelAdapter{Name: labelName(k), Value: v.AsString()})
					return true
				})
				if lr.SeverityText() != "" {
					meta = append(meta, push.LabelAdapter{Name: "severity_text", Value: lr.SeverityText()})
				}
				if !lr.TraceID().IsEmpty() {
					meta = append(meta, push.LabelAdapter{Name: "trace_id", Value: lr.TraceID().String()})
				}
				if !lr.SpanID().IsEmpty() {
					meta = append(meta, push.LabelAdapter{Name: "span_id", Value: lr.SpanID().String()})
				}
				st.Entries = append(st.Entries, push.Entry{Timestamp: when, Line: lr.Body().AsString(), StructuredMetadata: meta})
			}
		}
	}
	req := &push.PushRequest{}
	for _, k := range order {
		st := streams[k]
		sort.SliceStable(st.Entries, func(a, b int) bool { return st.Entries[a].Timestamp.Before(st.Entries[b].Timestamp) })
		req.Streams = append(req.Streams, *st)
	}
	return req
}

func (l *lokiBackend) send(ctx context.Context, tenant string, b batch) error {
	if b.signal != policy.SignalLogs {
		return consumererror.NewPermanent(fmt.Errorf("loki takes logs, not %s", b.signal))
	}
	raw, err := l.toPush(b.logs).Marshal()
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, l.cfg.Endpoint, bytes.NewReader(snappy.Encode(nil, raw)))
	if err != nil {
		return consumererror.NewPermanent(err)
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	return l.do(hr, tenant)
}
