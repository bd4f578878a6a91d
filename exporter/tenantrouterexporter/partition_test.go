package tenantrouterexporter

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// hostileResources are the resources of one request, as OTLP/JSON
// attribute lists: a resource holding tenant.id twice (pcommon keeps both),
// a suspended tenant, an undeclared one, and acme's own.
var hostileResources = []struct{ marker, attrs, quarantine string }{
	{"dup", `{"key":"tenant.id","value":{"stringValue":"globex"}},{"key":"tenant.id","value":{"stringValue":"acme"}}`, "malformed"},
	{"dup-rev", `{"key":"tenant.id","value":{"stringValue":"acme"}},{"key":"tenant.id","value":{"stringValue":"globex"}}`, "malformed"},
	{"suspended", `{"key":"tenant.id","value":{"stringValue":"initech"}}`, "suspended"},
	{"unknown", `{"key":"tenant.id","value":{"stringValue":"hooli"}}`, "unknown"},
	{"own", `{"key":"tenant.id","value":{"stringValue":"acme"}}`, ""},
}

func hostileJSON(signal string) []byte {
	var parts []string
	for _, r := range hostileResources {
		res := fmt.Sprintf(`"resource":{"attributes":[%s,{"key":"marker","value":{"stringValue":%q}}]}`, r.attrs, r.marker)
		switch signal {
		case "logs":
			parts = append(parts, `{`+res+`,"scopeLogs":[{"logRecords":[{"body":{"stringValue":"x"}}]}]}`)
		case "metrics":
			parts = append(parts, `{`+res+`,"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[{"asInt":"1"}]}}]}]}`)
		case "traces":
			parts = append(parts, `{`+res+`,"scopeSpans":[{"spans":[{"name":"s","traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708"}]}]}`)
		}
	}
	key := map[string]string{"logs": "resourceLogs", "metrics": "resourceMetrics", "traces": "resourceSpans"}[signal]
	return []byte(`{"` + key + `":[` + strings.Join(parts, ",") + `]}`)
}

// TestRepeatedTenantIDIsQuarantined: a resource carrying tenant.id twice
// lands in _quarantine (reason malformed) for every signal, never in the
// database of either tenant it names, whichever copy comes first; a
// suspended tenant is no destination (suspended), an undeclared one
// neither (unknown).
func TestRepeatedTenantIDIsQuarantined(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("3c", 32)
	t.Setenv(localstore.MasterKeyEnv, key)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir}}
	e := startRouter(t, cfg, "tenants: {acme: {}, globex: {}, initech: {status: suspended}}\n")

	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(hostileJSON("logs"))
	require.NoError(t, err)
	n := 0
	for _, v := range ld.ResourceLogs().At(0).Resource().Attributes().All() {
		if v.Str() == "globex" || v.Str() == "acme" {
			n++
		}
	}
	require.Equal(t, 2, n, "pcommon keeps both copies of the key")
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(hostileJSON("metrics"))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(hostileJSON("traces"))
	require.NoError(t, err)
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	require.NoError(t, e.traces.ConsumeTraces(t.Context(), td))
	e.stop(t)

	k, err := localstore.ParseKey(key)
	require.NoError(t, err)
	s, err := localstore.Open(dir, k)
	require.NoError(t, err)
	defer s.Close()
	tenants, err := s.Tenants()
	require.NoError(t, err)
	sort.Strings(tenants)
	assert.Equal(t, []string{policy.Quarantine, "acme"}, tenants, "no database for globex or the suspended initech")

	for table, col := range map[string]string{"logs": "body", "datapoints": "metric_name", "spans": "name"} {
		rows := func(tenant string) map[string]string {
			res, err := s.Query(t.Context(), tenant, fmt.Sprintf(`SELECT json_extract(resource, '$.marker'), json_extract(resource, '$."tenant.quarantine.reason"'), %s FROM %s`, col, table), localstore.QueryOptions{}, "")
			require.NoError(t, err)
			out := map[string]string{}
			for _, r := range res.Rows {
				reason, _ := r[1].(string)
				out[r[0].(string)] = reason
			}
			return out
		}
		assert.Equal(t, map[string]string{"own": ""}, rows("acme"), "%s: acme keeps only its own resource", table)
		want := map[string]string{}
		for _, r := range hostileResources {
			if r.quarantine != "" {
				want[r.marker] = r.quarantine
			}
		}
		assert.Equal(t, want, rows(policy.Quarantine), table)
	}
}
