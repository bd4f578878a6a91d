package isolation_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tenancyhq/tenancy/exporter/tenantfileexporter"
	"github.com/tenancyhq/tenancy/exporter/tenantrouterexporter"
	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/localstore"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
)

// agreeResources are the resources of one request, as OTLP/JSON attribute
// lists, each with where it must land: its tenant and quarantine reason.
var agreeResources = []struct {
	marker, attrs string
	want          landing
}{
	{"own", `{"key":"tenant.id","value":{"stringValue":"acme"}}`, landing{"acme", ""}},
	{"dup", `{"key":"tenant.id","value":{"stringValue":"globex"}},{"key":"tenant.id","value":{"stringValue":"acme"}}`, landing{policy.Quarantine, identity.ReasonMalformed}},
	{"not-a-string", `{"key":"tenant.id","value":{"intValue":"7"}}`, landing{policy.Quarantine, identity.ReasonMalformed}},
	{"suspended", `{"key":"tenant.id","value":{"stringValue":"initech"}}`, landing{policy.Quarantine, identity.ReasonSuspended}},
	{"undeclared", `{"key":"tenant.id","value":{"stringValue":"hooli"}}`, landing{policy.Quarantine, identity.ReasonUnknown}},
	{"path", `{"key":"tenant.id","value":{"stringValue":"../acme"}}`, landing{policy.Quarantine, identity.ReasonInvalid}},
	{"none", `{"key":"service.name","value":{"stringValue":"x"}}`, landing{policy.Quarantine, identity.ReasonNoTenant}},
	{"quarantined", `{"key":"tenant.id","value":{"stringValue":"_quarantine"}},{"key":"tenant.quarantine.reason","value":{"stringValue":"unverified"}}`, landing{policy.Quarantine, "unverified"}},
	{"governance", `{"key":"tenant.id","value":{"stringValue":"_governance"}}`, landing{policy.Governance, ""}},
	{"globex", `{"key":"tenant.id","value":{"stringValue":"globex"}}`, landing{"globex", ""}},
}

type landing struct{ tenant, reason string }

const agreePolicy = "tenants: {acme: {}, globex: {}, initech: {status: suspended}}\n"

func agreeRequest(signal string) []byte {
	var parts []string
	for _, r := range agreeResources {
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

// TestExportersAgreeOnTenants: the router and the file exporter put every
// resource of a hostile request in the same tenant with the same reason:
// an undeclared, suspended, malformed, repeated or missing tenant.id goes
// to _quarantine in both, identically. It fails if either splits by its
// own rule.
func TestExportersAgreeOnTenants(t *testing.T) {
	ctx := context.Background()
	pol, err := policy.Parse("agree", []byte(agreePolicy))
	if err != nil {
		t.Fatal(err)
	}
	host := policytest.NewHost(policytest.NewSwappable(pol), nil)
	master := strings.Repeat("5a", 32)
	t.Setenv(localstore.MasterKeyEnv, master)
	storeDir, fileDir := t.TempDir(), t.TempDir()

	rf := tenantrouterexporter.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*tenantrouterexporter.Config)
	rcfg.Backends = map[string]*tenantrouterexporter.BackendConfig{"store": {Type: tenantrouterexporter.TypeLocalstore, Directory: storeDir}}
	ff := tenantfileexporter.NewFactory()
	fcfg := ff.CreateDefaultConfig().(*tenantfileexporter.Config)
	fcfg.Directory = fileDir
	for _, cfg := range []interface{ Validate() error }{rcfg, fcfg} {
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	}

	var started []component.Component
	start := func(c component.Component, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(ctx, host); err != nil {
			t.Fatal(err)
		}
		started = append(started, c)
	}
	// Each exporter gets every signal's request, its own copy (both change
	// what they are given).
	for _, x := range []struct {
		f   exporter.Factory
		cfg component.Config
	}{{rf, rcfg}, {ff, fcfg}} {
		set := exportertest.NewNopSettings(x.f.Type())
		l, err := x.f.CreateLogs(ctx, set, x.cfg)
		start(l, err)
		ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(agreeRequest("logs"))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.ConsumeLogs(ctx, ld); err != nil {
			t.Fatal(err)
		}
		m, err := x.f.CreateMetrics(ctx, set, x.cfg)
		start(m, err)
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(agreeRequest("metrics"))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.ConsumeMetrics(ctx, md); err != nil {
			t.Fatal(err)
		}
		tr, err := x.f.CreateTraces(ctx, set, x.cfg)
		start(tr, err)
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(agreeRequest("traces"))
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.ConsumeTraces(ctx, td); err != nil {
			t.Fatal(err)
		}
	}
	// The router drains its queues into the store as it shuts down.
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := len(started) - 1; i >= 0; i-- {
		if err := started[i].Shutdown(sctx); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]landing{}
	for _, r := range agreeResources {
		want[r.marker] = r.want
	}
	router, files := routerLandings(t, storeDir, master), fileLandings(t, fileDir)
	for _, sig := range signalNames {
		if fmt.Sprint(router[sig]) != fmt.Sprint(files[sig]) {
			t.Errorf("%s: the exporters disagree\nrouter: %v\nfile:   %v", sig, router[sig], files[sig])
		}
		if fmt.Sprint(router[sig]) != fmt.Sprint(want) {
			t.Errorf("%s: router put resources at %v, want %v", sig, router[sig], want)
		}
	}
}

// routerLandings reads back, per signal, where the router stored each
// marked resource: the tenant whose store holds it, and its reason.
func routerLandings(t *testing.T, dir, master string) map[string]map[string]landing {
	key, err := localstore.ParseKey(master)
	if err != nil {
		t.Fatal(err)
	}
	s, err := localstore.Open(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tenants, err := s.Tenants()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]landing{}
	for i, table := range tables {
		got := map[string]landing{}
		for _, tenant := range tenants {
			res, err := s.Query(context.Background(), tenant, `SELECT json_extract(resource, '$.marker'), json_extract(resource, '$."tenant.quarantine.reason"') FROM `+table,
				localstore.QueryOptions{Actor: "agreement test"}, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range res.Rows {
				reason, _ := r[1].(string)
				got[r[0].(string)] = landing{tenant, reason}
			}
		}
		out[signalNames[i]] = got
	}
	return out
}

// fileLandings reads back, per signal, the folder each marked resource
// was written to, and its reason.
func fileLandings(t *testing.T, dir string) map[string]map[string]landing {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]landing{}
	for _, sig := range signalNames {
		got := map[string]landing{}
		for _, e := range entries {
			f, err := os.Open(filepath.Join(dir, e.Name(), sig+".jsonl"))
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				for _, attrs := range resourcesOf(t, sig, sc.Bytes()) {
					marker, _ := attrs.Get("marker")
					reason, _ := attrs.Get(identity.AttrQuarantineReason)
					got[marker.Str()] = landing{e.Name(), reason.Str()}
				}
			}
			f.Close()
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
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
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			out = append(out, ld.ResourceLogs().At(i).Resource().Attributes())
		}
	case "metrics":
		md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			out = append(out, md.ResourceMetrics().At(i).Resource().Attributes())
		}
	case "traces":
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			out = append(out, td.ResourceSpans().At(i).Resource().Attributes())
		}
	}
	return out
}
