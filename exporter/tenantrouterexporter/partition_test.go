package tenantrouterexporter

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/exporter/tenantfileexporter"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// landing is where a resource was stored: its tenant and quarantine reason.
type landing struct{ tenant, reason string }

// hostileResources are the resources of one request, as OTLP/JSON
// attribute lists, with where each must land: a resource holding tenant.id
// twice (pcommon keeps both), one whose tenant.id is no string, a
// suspended tenant, an undeclared one, an id that is a path, none at all,
// the pipeline tenants as the pipeline wrote them, and two tenants' own.
var hostileResources = []struct {
	marker, attrs string
	want          landing
}{
	{"dup", `{"key":"tenant.id","value":{"stringValue":"globex"}},{"key":"tenant.id","value":{"stringValue":"acme"}}`, landing{policy.Quarantine, identity.ReasonMalformed}},
	{"dup-rev", `{"key":"tenant.id","value":{"stringValue":"acme"}},{"key":"tenant.id","value":{"stringValue":"globex"}}`, landing{policy.Quarantine, identity.ReasonMalformed}},
	{"not-a-string", `{"key":"tenant.id","value":{"intValue":"7"}}`, landing{policy.Quarantine, identity.ReasonMalformed}},
	{"suspended", `{"key":"tenant.id","value":{"stringValue":"initech"}}`, landing{policy.Quarantine, identity.ReasonSuspended}},
	{"unknown", `{"key":"tenant.id","value":{"stringValue":"hooli"}}`, landing{policy.Quarantine, identity.ReasonUnknown}},
	{"path", `{"key":"tenant.id","value":{"stringValue":"../acme"}}`, landing{policy.Quarantine, identity.ReasonInvalid}},
	{"none", `{"key":"service.name","value":{"stringValue":"x"}}`, landing{policy.Quarantine, identity.ReasonNoTenant}},
	{"quarantined", `{"key":"tenant.id","value":{"stringValue":"_quarantine"}},{"key":"tenant.quarantine.reason","value":{"stringValue":"unverified"}}`, landing{policy.Quarantine, "unverified"}},
	{"governance", `{"key":"tenant.id","value":{"stringValue":"_governance"}}`, landing{policy.Governance, ""}},
	{"own", `{"key":"tenant.id","value":{"stringValue":"acme"}}`, landing{"acme", ""}},
	{"pending", `{"key":"tenant.id","value":{"stringValue":"pending"}}`, landing{"pending", ""}},
}

const hostilePolicy = "tenants: {acme: {}, globex: {}, initech: {status: suspended}, pending: {}}\n"

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

var signals = []string{"logs", "metrics", "traces"}

// hostileRequests are each signal's request, a fresh copy on every call
// (the exporters change what they are given).
func hostileRequests(t *testing.T) (plog.Logs, pmetric.Metrics, ptrace.Traces) {
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(hostileJSON("logs"))
	require.NoError(t, err)
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(hostileJSON("metrics"))
	require.NoError(t, err)
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(hostileJSON("traces"))
	require.NoError(t, err)
	return ld, md, td
}

// TestHostileTenantIDs: every resource of a hostile request lands where
// tenantsplit's one rule puts it, for every signal, and the file exporter
// puts it in the same place with the same reason: a resource carrying
// tenant.id twice lands in _quarantine (malformed), never in the database
// of either tenant it names, whichever copy comes first; an undeclared,
// suspended, non-string, path-like or missing tenant.id goes to
// _quarantine with its reason. It fails if either exporter splits by a
// rule of its own.
func TestHostileTenantIDs(t *testing.T) {
	dir := t.TempDir()
	key := strings.Repeat("3c", 32)
	t.Setenv(localstore.MasterKeyEnv, key)
	cfg := createDefaultConfig().(*Config)
	cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: dir}}
	e := startRouter(t, cfg, hostilePolicy)

	ld, md, td := hostileRequests(t)
	n := 0
	for _, v := range ld.ResourceLogs().At(0).Resource().Attributes().All() {
		if v.Str() == "globex" || v.Str() == "acme" {
			n++
		}
	}
	require.Equal(t, 2, n, "pcommon keeps both copies of the key")
	require.NoError(t, e.logs.ConsumeLogs(t.Context(), ld))
	require.NoError(t, e.metrics.ConsumeMetrics(t.Context(), md))
	require.NoError(t, e.traces.ConsumeTraces(t.Context(), td))
	e.stop(t)

	want := map[string]landing{}
	for _, r := range hostileResources {
		want[r.marker] = r.want
	}
	router := routerLandings(t, dir, key)
	files := fileLandings(t, hostilePolicy)
	for _, sig := range signals {
		assert.Equal(t, want, router[sig], "%s: where the router stored each resource", sig)
		assert.Equal(t, router[sig], files[sig], "%s: the file exporter disagrees with the router", sig)
	}
}

// routerLandings reads back, per signal, the tenant store holding each
// marked resource and its reason.
func routerLandings(t *testing.T, dir, key string) map[string]map[string]landing {
	k, err := localstore.ParseKey(key)
	require.NoError(t, err)
	s, err := localstore.Open(dir, k)
	require.NoError(t, err)
	defer s.Close()
	tenants, err := s.Tenants()
	require.NoError(t, err)
	sort.Strings(tenants)
	assert.Equal(t, []string{policy.Governance, policy.Quarantine, "acme", "pending"}, tenants, "no store for globex or the suspended initech")
	out := map[string]map[string]landing{}
	for i, table := range []string{"logs", "datapoints", "spans"} {
		got := map[string]landing{}
		for _, tenant := range tenants {
			res, err := s.Query(t.Context(), tenant, `SELECT json_extract(resource, '$.marker'), json_extract(resource, '$."tenant.quarantine.reason"') FROM `+table, localstore.QueryOptions{}, "")
			require.NoError(t, err)
			for _, r := range res.Rows {
				reason, _ := r[1].(string)
				got[r[0].(string)] = landing{tenant, reason}
			}
		}
		out[signals[i]] = got
	}
	return out
}

// fileLandings sends the hostile requests through the tenantfile exporter
// and reads back, per signal, the folder each marked resource was written
// to and its reason.
func fileLandings(t *testing.T, policyYAML string) map[string]map[string]landing {
	dir := t.TempDir()
	f := tenantfileexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*tenantfileexporter.Config)
	cfg.Directory = dir
	require.NoError(t, cfg.Validate())
	set := exportertest.NewNopSettings(f.Type())
	host := hostWith(t, policyYAML, nil)
	l, err := f.CreateLogs(t.Context(), set, cfg)
	require.NoError(t, err)
	m, err := f.CreateMetrics(t.Context(), set, cfg)
	require.NoError(t, err)
	tr, err := f.CreateTraces(t.Context(), set, cfg)
	require.NoError(t, err)
	for _, c := range []component.Component{l, m, tr} {
		require.NoError(t, c.Start(t.Context(), host))
	}
	ld, md, td := hostileRequests(t)
	require.NoError(t, l.ConsumeLogs(t.Context(), ld))
	require.NoError(t, m.ConsumeMetrics(t.Context(), md))
	require.NoError(t, tr.ConsumeTraces(t.Context(), td))
	for _, c := range []component.Component{l, m, tr} {
		require.NoError(t, c.Shutdown(t.Context()))
	}

	folders, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]map[string]landing{}
	for _, sig := range signals {
		got := map[string]landing{}
		for _, folder := range folders {
			fh, err := os.Open(filepath.Join(dir, folder.Name(), sig+".jsonl"))
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				for _, attrs := range resourcesOf(t, sig, sc.Bytes()) {
					marker, _ := attrs.Get("marker")
					reason, _ := attrs.Get(identity.AttrQuarantineReason)
					got[marker.Str()] = landing{folder.Name(), reason.Str()}
				}
			}
			require.NoError(t, sc.Err())
			require.NoError(t, fh.Close())
		}
		out[sig] = got
	}
	return out
}

// resourcesOf returns the resource attributes of one OTLP/JSON line.
func resourcesOf(t *testing.T, signal string, line []byte) []pcommon.Map {
	var out []pcommon.Map
	switch signal {
	case "logs":
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line)
		require.NoError(t, err)
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			out = append(out, ld.ResourceLogs().At(i).Resource().Attributes())
		}
	case "metrics":
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		require.NoError(t, err)
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			out = append(out, md.ResourceMetrics().At(i).Resource().Attributes())
		}
	case "traces":
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		require.NoError(t, err)
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			out = append(out, td.ResourceSpans().At(i).Resource().Attributes())
		}
	}
	return out
}
