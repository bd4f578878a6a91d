package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
	"github.com/prometheus/prometheus/prompb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/peertest"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// hostileConfig takes every ingest path at once: the stock otlp receiver
// (HTTP and gRPC) and the tenantgateway (OTLP/HTTP, OTLP/gRPC, Loki push,
// remote write), into the full pipeline and the local store.
const hostileConfig = `
extensions:
  tenantpolicy: {path: "{{POLICY}}", reload_interval: 200ms}
  health_check: {endpoint: "{{HEALTH}}"}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "{{GRPC}}", auth: {authenticator: tenantpolicy}}
      http: {endpoint: "{{HTTP}}", auth: {authenticator: tenantpolicy}}
  tenantgateway:
    endpoint: "{{GW_HTTP}}"
    auth: {authenticator: tenantpolicy}
    grpc: {endpoint: "{{GW_GRPC}}", auth: {authenticator: tenantpolicy}}
processors:
  tenant: {fingerprint_secret: "${env:TENANCY_FINGERPRINT_SECRET}"}
  tenantretention: {}
  tenantredact: {}
exporters:
  tenantrouter:
    backends:
      local: {type: localstore, directory: "{{DIR}}/store"}
service:
  telemetry: {metrics: {level: none}}
  extensions: [tenantpolicy, health_check]
  pipelines:
    logs: {receivers: [otlp, tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
    metrics: {receivers: [otlp, tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
    traces: {receivers: [otlp, tenantgateway], processors: [tenant, tenantretention, tenantredact], exporters: [tenantrouter]}
`

// The attacker holds acme's key and names globex. hostileForeign are
// globex's identifiers the requests carry under tenant.* keys and in
// plain values: none may be stored anywhere (the quarantine has no owner,
// so there every tenant's identifiers are foreign).
var hostileForeign = []string{"ak_globex_", "globex.example"}

// hostileCase is one resource shape, and where its records must go.
type hostileCase struct {
	name   string
	claims []string // tenant.id values on the resource, in order
	dest   string   // acme or _quarantine
	reason string
}

// Every repeated tenant.id is malformed, whichever copies it holds.
var hostileCases = []hostileCase{
	{"repeat-other-first", []string{"globex", "acme"}, policy.Quarantine, identity.ReasonMalformed},
	{"repeat-own-first", []string{"acme", "globex"}, policy.Quarantine, identity.ReasonMalformed},
	{"repeat-same", []string{"acme", "acme"}, policy.Quarantine, identity.ReasonMalformed},
	{"spoof", []string{"globex"}, policy.Quarantine, "spoofed"},
	{"below", nil, "acme", ""},
}

func jsonStr(k, v string) string {
	return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v)
}

// hostileAttrs are the record-level attributes of every hostile record:
// the marker, then tenant.* keys a client must not be able to write below
// the resource (at the top, nested, forged audit values), a repeated key,
// and globex's identifiers in plain and bytes values.
func hostileAttrs(marker string) string {
	return strings.Join([]string{
		jsonStr("marker", marker),
		jsonStr("tenant.id", "globex"),
		jsonStr("tenant.redaction.note", "FORGED globex ak_globex_999"),
		`{"key":"tenant.redaction.count","value":{"intValue":"987654321"}}`,
		`{"key":"tenant.redaction.records","value":{"intValue":"987654321"}}`,
		jsonStr("tenant.redaction.classes", "FORGED"),
		jsonStr("tenant.redaction.policy_version", "FORGED"),
		jsonStr("tenant.quarantine.reason", "FORGED"),
		`{"key":"ctx","value":{"kvlistValue":{"values":[` + jsonStr("tenant.id", "globex") + `,` + jsonStr("user", "bob@globex.example") + `]}}}`,
		jsonStr("k", "first"), jsonStr("k", "second"),
		`{"key":"raw","value":{"bytesValue":"` + base64.StdEncoding.EncodeToString([]byte("token ak_globex_999")) + `"}}`,
	}, ",")
}

// hostileResource is a resource with the case's claims among forged
// pipeline attributes.
func hostileResource(hc hostileCase) string {
	attrs := []string{jsonStr("service.name", "hostile")}
	for _, c := range hc.claims {
		attrs = append(attrs, jsonStr("tenant.id", c))
	}
	attrs = append(attrs,
		jsonStr("tenant.fingerprint", "FORGED"),
		jsonStr("tenant.authenticated", "globex"),
		jsonStr("tenant.claimed", "FORGED"),
		jsonStr("tenant.redaction.note", "FORGED globex ak_globex_999"),
		// The redactor adds to the counts it finds (a second pass): forged
		// ones that survived would be in the stored sums.
		`{"key":"tenant.redaction.count","value":{"intValue":"987654321"}}`,
		`{"key":"tenant.redaction.records","value":{"intValue":"987654321"}}`,
		jsonStr("tenant.redaction.classes", "FORGED"),
		jsonStr("tenant.redaction.policy_version", "FORGED"),
		`{"key":"nested","value":{"kvlistValue":{"values":[`+jsonStr("tenant.id", "globex")+`]}}}`)
	return `{"attributes":[` + strings.Join(attrs, ",") + `]}`
}

// hostileOTLPJSON is one request of signal in OTLP/JSON: one resource of
// the case, tenant.* keys on its scope, record, event, link, data point
// and exemplar.
func hostileOTLPJSON(signal string, hc hostileCase, marker string) string {
	now := fmt.Sprint(time.Now().UnixNano())
	res := hostileResource(hc)
	scope := `{"name":"hx","attributes":[` + jsonStr("tenant.id", "globex") + `,` + jsonStr("tenant.redaction.note", "FORGED ak_globex_999") + `]}`
	attrs := hostileAttrs(marker)
	below := jsonStr("tenant.id", "globex") + "," + jsonStr("tenant.redaction.note", "FORGED ak_globex_999")
	switch signal {
	case "logs":
		return `{"resourceLogs":[{"resource":` + res + `,"scopeLogs":[{"scope":` + scope + `,"logRecords":[{"timeUnixNano":"` + now +
			`","body":{"stringValue":"` + marker + ` for globex.example"},"attributes":[` + attrs + `]}]}]}]}`
	case "metrics":
		return `{"resourceMetrics":[{"resource":` + res + `,"scopeMetrics":[{"scope":` + scope + `,"metrics":[{"name":"hx_orders","gauge":{"dataPoints":[{"timeUnixNano":"` + now +
			`","asDouble":1,"attributes":[` + attrs + `],"exemplars":[{"timeUnixNano":"` + now + `","asDouble":1,"filteredAttributes":[` + below + `]}]}]}}]}]}]}`
	}
	return `{"resourceSpans":[{"resource":` + res + `,"scopeSpans":[{"scope":` + scope + `,"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"` + marker +
		`","kind":2,"startTimeUnixNano":"` + now + `","endTimeUnixNano":"` + now + `","attributes":[` + attrs + `],"events":[{"timeUnixNano":"` + now +
		`","name":"ev","attributes":[` + below + `]}],"links":[{"traceId":"0102030405060708090a0b0c0d0e0f11","spanId":"0102030405060709","attributes":[` + below + `]}]}]}]}]}`
}

// otlpRequest is a hostile request decoded into pdata, which keeps every
// copy of a repeated key, so protobuf and gRPC clients send them too.
type otlpRequest struct {
	logs    plog.Logs
	metrics pmetric.Metrics
	traces  ptrace.Traces
}

func decodeOTLPJSON(t *testing.T, signal, js string) otlpRequest {
	t.Helper()
	var r otlpRequest
	var err error
	switch signal {
	case "logs":
		r.logs, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(js))
	case "metrics":
		r.metrics, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics([]byte(js))
	default:
		r.traces, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(js))
	}
	require.NoError(t, err, js)
	return r
}

func (r otlpRequest) proto(t *testing.T, signal string) []byte {
	var b []byte
	var err error
	switch signal {
	case "logs":
		b, err = plogotlp.NewExportRequestFromLogs(r.logs).MarshalProto()
	case "metrics":
		b, err = pmetricotlp.NewExportRequestFromMetrics(r.metrics).MarshalProto()
	default:
		b, err = ptraceotlp.NewExportRequestFromTraces(r.traces).MarshalProto()
	}
	require.NoError(t, err)
	return b
}

// grpcTo sends the request over OTLP/gRPC to addr with acme's key and
// returns the status text ("OK" when accepted).
func (r otlpRequest) grpcTo(t *testing.T, addr, signal, key string) (bool, string) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	defer conn.Close()
	ctx := metadata.AppendToOutgoingContext(contextWithTimeout(t), "x-api-key", key)
	switch signal {
	case "logs":
		_, err = plogotlp.NewGRPCClient(conn).Export(ctx, plogotlp.NewExportRequestFromLogs(r.logs))
	case "metrics":
		_, err = pmetricotlp.NewGRPCClient(conn).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(r.metrics))
	default:
		_, err = ptraceotlp.NewGRPCClient(conn).Export(ctx, ptraceotlp.NewExportRequestFromTraces(r.traces))
	}
	return err == nil, status.Code(err).String() + " " + status.Convert(err).Message()
}

// postTo posts body to addr+path with acme's key; it reports whether the
// request was accepted (2xx) and the status line and body.
func postTo(t *testing.T, addr, path, key string, body []byte, headers ...string) (bool, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode/100 == 2, resp.Status + " " + string(b)
}

// sent is one hostile request: where its records may land, and whether
// the client was told it was accepted.
type sent struct {
	marker   string
	accepted bool
	answer   string
	// dest is where its records must be; "" allows acme's store or the
	// quarantine (the Loki and remote-write shapes, whose labels cannot
	// say tenant.id the OTLP way).
	dest, reason string
}

// storedRow is one row of a store, read back.
type storedRow struct {
	store, table string
	cols         map[string]any
}

// readAllStores returns every row of every table of every store under dir.
func readAllStores(t *testing.T, dir string) []storedRow {
	t.Helper()
	key, err := localstore.ParseKey(routerMasterKey)
	require.NoError(t, err)
	s, err := localstore.Open(dir, key)
	require.NoError(t, err)
	defer s.Close()
	names, err := s.Tenants()
	require.NoError(t, err)
	var rows []storedRow
	for _, name := range names {
		for _, table := range []string{"logs", "datapoints", "spans"} {
			res, err := s.Query(context.Background(), name, "SELECT * FROM "+table, localstore.QueryOptions{Actor: "e2e"}, "")
			require.NoError(t, err, "%s %s", name, table)
			for _, r := range res.Rows {
				cols := map[string]any{}
				for i, c := range res.Columns {
					cols[c] = r[i]
				}
				rows = append(rows, storedRow{name, table, cols})
			}
		}
	}
	return rows
}

// tenantKeysBelow lists the tenant.* keys of a stored attribute map (JSON
// text) that only a client can have written: any below the top, and at
// the top any but the redactor's class list (its counts and policy
// version are the resource's) and the retention processor's note.
func tenantKeysBelow(js string) []string {
	var m map[string]any
	if json.Unmarshal([]byte(js), &m) != nil {
		return []string{"<unreadable: " + js + ">"}
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if strings.HasPrefix(k, identity.AttrPrefix) {
					switch {
					case depth > 0:
						out = append(out, k)
					case k != identity.AttrRedactionClasses && k != "tenant.retention.original_time":
						out = append(out, fmt.Sprintf("%s=%v", k, val))
					}
				}
				walk(val, depth+1)
			}
		case []any:
			for _, e := range x {
				walk(e, depth+1)
			}
		}
	}
	walk(m, 0)
	sort.Strings(out)
	return out
}

var (
	markerRe   = regexp.MustCompile(`hxm-[a-z0-9-]+-x`)
	globexWord = regexp.MustCompile(`(?i)\bglobex\b`) // the demo policy's bare identifier
)

// TestHostileEveryIngestPath sends acme's repeated-key and tenant.*
// requests, naming globex, down every ingest path of the built collector:
// the stock otlp receiver (OTLP/HTTP JSON and protobuf, OTLP/gRPC), the
// tenantgateway (the same three, Loki push as protobuf+snappy and JSON,
// Prometheus remote write). Then it reads every store: nothing lands in
// globex's (or any store but acme's and _quarantine), each record is where
// the identity rules say, a quarantined one names acme and its key, no
// client tenant.* key survives below the resource, no forged value and no
// globex identifier is stored, and what the client was told was refused is
// stored nowhere.
func TestHostileEveryIngestPath(t *testing.T) {
	t.Setenv(localstore.MasterKeyEnv, routerMasterKey) // inherited by the collector
	gwHTTP, gwGRPC := peertest.FreeAddr(t), peertest.FreeAddr(t)
	cfg := strings.NewReplacer("{{GW_HTTP}}", gwHTTP, "{{GW_GRPC}}", gwGRPC).Replace(hostileConfig)
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), cfg)
	key := demoKeys["acme"]

	var all []sent
	n := 0
	marker := func(path string) string { n++; return fmt.Sprintf("hxm-%s-%d-x", path, n) }

	// OTLP: every case, signal and transport.
	for _, sig := range signals {
		for _, hc := range hostileCases {
			for _, path := range []string{"otlp-http-json", "otlp-http-proto", "otlp-grpc", "gw-http-json", "gw-http-proto", "gw-grpc"} {
				mk := marker(path + "-" + sig + "-" + hc.name)
				js := hostileOTLPJSON(sig, hc, mk)
				s := sent{marker: mk, dest: hc.dest, reason: hc.reason}
				httpAddr := c.httpAddr
				if strings.HasPrefix(path, "gw-") {
					httpAddr = gwHTTP
				}
				switch {
				case strings.HasSuffix(path, "-json"):
					s.accepted, s.answer = postTo(t, httpAddr, "/v1/"+sig, key, []byte(js), "Content-Type", "application/json")
				case strings.HasSuffix(path, "-proto"):
					s.accepted, s.answer = postTo(t, httpAddr, "/v1/"+sig, key, decodeOTLPJSON(t, sig, js).proto(t, sig), "Content-Type", "application/x-protobuf")
				case path == "otlp-grpc":
					s.accepted, s.answer = decodeOTLPJSON(t, sig, js).grpcTo(t, c.grpcAddr, sig, key)
				default:
					s.accepted, s.answer = decodeOTLPJSON(t, sig, js).grpcTo(t, gwGRPC, sig, key)
				}
				// These are valid OTLP: refusing them is no answer to a spoof.
				assert.True(t, s.accepted, "%s: %s", mk, s.answer)
				all = append(all, s)
			}
		}
	}

	// Loki push: label names cannot hold a dot, so tenant.id can only come
	// as an invalid label (a 4xx is a fine answer) or as tenant_id, which is
	// an ordinary label; labels may repeat.
	now := time.Now()
	for _, lc := range []struct {
		name, labels string
		meta         push.LabelsAdapter
	}{
		{"repeat", `{job="hx", job="hx2", tenant_id="globex"}`, push.LabelsAdapter{{Name: "user", Value: "bob@globex.example"}}},
		{"dotted", `{tenant.id="globex", job="hx"}`, nil},
		{"dotted-meta", `{job="hx"}`, push.LabelsAdapter{{Name: "tenant.id", Value: "globex"}, {Name: "tenant.redaction.note", Value: "FORGED ak_globex_999"}}},
	} {
		mk := marker("loki-proto-" + lc.name)
		pr := push.PushRequest{Streams: []push.Stream{{Labels: lc.labels, Entries: []push.Entry{
			{Timestamp: now, Line: mk + " for ak_globex_999", StructuredMetadata: lc.meta},
		}}}}
		pb, err := pr.Marshal()
		require.NoError(t, err)
		s := sent{marker: mk}
		s.accepted, s.answer = postTo(t, gwHTTP, "/loki/api/v1/push", key, snappy.Encode(nil, pb), "Content-Type", "application/x-protobuf")
		all = append(all, s)
	}
	for _, lc := range []struct{ name, stream, meta string }{
		{"repeat", `{"job":"hx","job":"hx2","tenant_id":"globex"}`, `{"user":"bob@globex.example","user":"x"}`},
		{"dotted", `{"tenant.id":"globex","job":"hx"}`, `{}`},
		{"dotted-meta", `{"job":"hx"}`, `{"tenant.id":"globex","tenant.redaction.note":"FORGED ak_globex_999"}`},
	} {
		mk := marker("loki-json-" + lc.name)
		js := fmt.Sprintf(`{"streams":[{"stream":%s,"values":[["%d","%s for ak_globex_999",%s]]}]}`, lc.stream, now.UnixNano(), mk, lc.meta)
		s := sent{marker: mk}
		s.accepted, s.answer = postTo(t, gwHTTP, "/loki/api/v1/push", key, []byte(js), "Content-Type", "application/json")
		all = append(all, s)
	}

	// Prometheus remote write: UTF-8 label names, so tenant.* labels and
	// repeated ones reach the data points.
	for _, rc := range []struct {
		name   string
		labels []prompb.Label
	}{
		{"repeat", []prompb.Label{{Name: "job", Value: "hx"}, {Name: "job", Value: "hx2"}, {Name: "tenant.id", Value: "globex"}, {Name: "tenant.id", Value: "acme"}}},
		{"tenant-labels", []prompb.Label{{Name: "tenant.id", Value: "globex"}, {Name: "tenant.redaction.note", Value: "FORGED ak_globex_999"}, {Name: "tenant.quarantine.reason", Value: "FORGED"}}},
	} {
		mk := marker("rw-" + rc.name)
		labels := append([]prompb.Label{{Name: "__name__", Value: "hx_rw"}, {Name: "marker", Value: mk}}, rc.labels...)
		wr := prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{Labels: labels, Samples: []prompb.Sample{{Value: 1, Timestamp: now.UnixMilli()}}}}}
		pb, err := wr.Marshal()
		require.NoError(t, err)
		s := sent{marker: mk}
		s.accepted, s.answer = postTo(t, gwHTTP, "/api/v1/push", key, snappy.Encode(nil, pb), "Content-Type", "application/x-protobuf")
		all = append(all, s)
	}

	// Graceful shutdown drains every queue into the store.
	c.stop()
	rows := readAllStores(t, filepath.Join(c.dir, "store"))

	found := map[string][]string{} // marker -> stores
	stores := map[string]bool{}
	for _, r := range rows {
		stores[r.store] = true
		var text strings.Builder
		for _, v := range r.cols {
			if s, ok := v.(string); ok {
				text.WriteString(s)
				text.WriteByte('\n')
			}
		}
		rowText := text.String()
		where := fmt.Sprintf("%s %s row %v", r.store, r.table, r.cols["id"])
		for _, mk := range markerRe.FindAllString(rowText, -1) {
			if !containsString(found[mk], r.store) {
				found[mk] = append(found[mk], r.store)
			}
		}
		// The quarantine's tenant.claimed keeps the claims as they were
		// sent, by design; nothing else may hold globex's identifiers.
		res, _ := r.cols["resource"].(string)
		var resource map[string]any
		require.NoError(t, json.Unmarshal([]byte(res), &resource), where)
		delete(resource, identity.AttrClaimed)
		scrubbed, _ := json.Marshal(resource)
		others := strings.Replace(rowText, res, string(scrubbed), 1)
		for _, id := range hostileForeign {
			assert.NotContains(t, strings.ToLower(others), id, "%s holds globex's identifier", where)
		}
		assert.False(t, globexWord.MatchString(others), "%s holds globex's identifier \"globex\"", where)
		assert.NotContains(t, rowText, "FORGED", "%s holds a client's tenant.* value", where)
		assert.Equal(t, r.store, resource[identity.AttrTenantID], "%s: resource tenant.id", where)
		for _, k := range []string{identity.AttrRedactionCount, identity.AttrRedactionRecords} {
			if n, ok := resource[k].(float64); ok {
				assert.Less(t, n, 987654321.0, "%s: the client's %s survived under the redactor's", where, k)
			}
		}
		if a, ok := resource[identity.AttrAuthenticated]; ok || r.store == policy.Quarantine {
			assert.Equal(t, "acme", a, "%s: tenant.authenticated", where)
		}
		if r.store == policy.Quarantine {
			assert.Equal(t, identity.KeyID(key), resource[identity.AttrCredential], "%s: tenant.credential", where)
			assert.NotEmpty(t, resource[identity.AttrSource], "%s: tenant.source", where)
		}
		for _, col := range []string{"attrs", "events"} {
			if js, ok := r.cols[col].(string); ok && js != "" {
				if col == "events" {
					var evs []map[string]any
					require.NoError(t, json.Unmarshal([]byte(js), &evs), where)
					for _, ev := range evs {
						b, _ := json.Marshal(ev["attrs"])
						assert.Empty(t, tenantKeysBelow(string(b)), "%s: client tenant.* keys in an event", where)
					}
					continue
				}
				assert.Empty(t, tenantKeysBelow(js), "%s: client tenant.* keys below the resource", where)
			}
		}
	}
	for store := range stores {
		assert.Contains(t, []string{"acme", policy.Quarantine}, store, "acme's hostile requests made a store for %s", store)
	}
	reasons := map[string]map[string]bool{} // marker -> quarantine reasons
	for _, r := range rows {
		if r.store != policy.Quarantine {
			continue
		}
		res, _ := r.cols["resource"].(string)
		var resource map[string]any
		_ = json.Unmarshal([]byte(res), &resource)
		for _, mk := range markerRe.FindAllString(fmt.Sprint(r.cols), -1) {
			if reasons[mk] == nil {
				reasons[mk] = map[string]bool{}
			}
			reasons[mk][fmt.Sprint(resource[identity.AttrQuarantineReason])] = true
		}
	}
	for _, s := range all {
		got := found[s.marker]
		switch {
		case !s.accepted:
			assert.Empty(t, got, "%s was refused (%s) but stored", s.marker, s.answer)
		case s.dest != "":
			assert.Equal(t, []string{s.dest}, got, "%s: where its records are", s.marker)
			if s.dest == policy.Quarantine {
				assert.Equal(t, map[string]bool{s.reason: true}, reasons[s.marker], "%s: quarantine reason", s.marker)
			}
		default:
			assert.Len(t, got, 1, "%s (accepted: %s) stored once, in acme's store or the quarantine", s.marker, s.answer)
		}
		t.Logf("%-40s accepted=%-5v stored in %v  (%s)", s.marker, s.accepted, got, strings.TrimSpace(clipAnswer(s.answer)))
	}
}

func clipAnswer(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
