package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.yaml.in/yaml/v3"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/pdatacount"
	"github.com/tenancyhq/tenancy/internal/policy"
	"github.com/tenancyhq/tenancy/internal/policytest"
	"github.com/tenancyhq/tenancy/internal/redact"
	"github.com/tenancyhq/tenancy/processor/tenantprocessor"
	"github.com/tenancyhq/tenancy/processor/tenantretentionprocessor"
)

// dryRunSecret fingerprints tenants in the dry run; fingerprints are not
// compared, so any secret of the required length does.
const dryRunSecret = "tenancyctl-policy-test-fingerprint-secret"

// chain is the collector's tenant processing under one policy, built from
// the components themselves (tenant, tenantretention, then redaction as
// tenantredact does), so the dry run decides as the collector would.
type chain struct {
	pol   *policy.Policy
	red   *redact.Redactor
	stats redact.Stats
	procs []component.Component
	logs  consumer.Logs
	mets  consumer.Metrics
	trcs  consumer.Traces
	sinkL consumertest.LogsSink
	sinkM consumertest.MetricsSink
	sinkT consumertest.TracesSink
}

// newChain builds the chain for pol. Identity: every resource's tenant.id
// is taken as its sender's proven tenant (allow_unverified_claims), which
// is what a sample the store exported holds. Retention and residency flag
// rather than drop, so every resource comes out where it went in and the
// two policies' outcomes are compared record by record. region is the
// tenantretention processor's (from --config), "" for none.
func newChain(ctx context.Context, pol *policy.Policy, region string) (*chain, error) {
	red, err := redact.New(pol, redact.Options{HashKeys: map[string][]byte{"dryrun": []byte(dryRunSecret)}, ActiveHashKey: "dryrun"})
	if err != nil {
		return nil, err
	}
	c := &chain{pol: pol, red: red}
	host := policytest.NewHost(policy.Static{P: pol}, nil)

	rf := tenantretentionprocessor.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*tenantretentionprocessor.Config)
	rcfg.Region, rcfg.Expired, rcfg.OutOfRegion = region, tenantretentionprocessor.ActionFlag, tenantretentionprocessor.ActionFlag
	tf := tenantprocessor.NewFactory()
	tcfg := tf.CreateDefaultConfig().(*tenantprocessor.Config)
	tcfg.FingerprintSecret, tcfg.AllowUnverifiedClaims = dryRunSecret, true

	redL, _ := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		c.stats.Add(c.red.Logs(ld))
		return c.sinkL.ConsumeLogs(ctx, ld)
	})
	redM, _ := consumer.NewMetrics(func(ctx context.Context, md pmetric.Metrics) error {
		c.stats.Add(c.red.Metrics(md))
		return c.sinkM.ConsumeMetrics(ctx, md)
	})
	redT, _ := consumer.NewTraces(func(ctx context.Context, td ptrace.Traces) error {
		c.stats.Add(c.red.Traces(td))
		return c.sinkT.ConsumeTraces(ctx, td)
	})
	rset, tset := processortest.NewNopSettings(rf.Type()), processortest.NewNopSettings(tf.Type())
	rl, err1 := rf.CreateLogs(ctx, rset, rcfg, redL)
	rm, err2 := rf.CreateMetrics(ctx, rset, rcfg, redM)
	rt, err3 := rf.CreateTraces(ctx, rset, rcfg, redT)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	tl, err1 := tf.CreateLogs(ctx, tset, tcfg, rl)
	tm, err2 := tf.CreateMetrics(ctx, tset, tcfg, rm)
	tt, err3 := tf.CreateTraces(ctx, tset, tcfg, rt)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	c.logs, c.mets, c.trcs = tl, tm, tt
	c.procs = []component.Component{rl, rm, rt, tl, tm, tt}
	for _, p := range c.procs {
		if err := p.Start(ctx, host); err != nil {
			c.shutdown(ctx)
			return nil, err
		}
	}
	return c, nil
}

func (c *chain) shutdown(ctx context.Context) {
	for _, p := range c.procs {
		_ = p.Shutdown(ctx)
	}
}

// outcome is what became of one resource of the sample under one policy.
type outcome struct {
	signal  policy.Signal
	own     string // the tenant.id the sample gave it
	tenant  string // after identity
	reason  string // tenant.quarantine.reason
	records int
	expired int  // records out of retention
	region  bool // out of the collector's region (residency)
}

// lost is how many of the resource's records do not reach its tenant.
func (o outcome) lost() int {
	switch {
	case o.tenant == policy.Quarantine && o.own != policy.Quarantine, o.region:
		return o.records
	}
	return o.expired
}

// run passes one sample line (one OTLP/JSON export request) through the
// chain and returns its resources' outcomes, in the line's order. The
// signal is the one whose unmarshaler finds resources in it.
func (c *chain) run(ctx context.Context, line []byte) ([]outcome, error) {
	var out []outcome
	if ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(line); err == nil && ld.ResourceLogs().Len() > 0 {
		owns := resourceTenants(ld.ResourceLogs().Len(), func(i int) pcommon.Map { return ld.ResourceLogs().At(i).Resource().Attributes() })
		c.sinkL.Reset()
		if err := c.logs.ConsumeLogs(ctx, ld); err != nil {
			return nil, err
		}
		for _, got := range c.sinkL.AllLogs() {
			for i, rl := range got.ResourceLogs().All() {
				o := resourceOutcome(policy.SignalLogs, owns[i], rl.Resource().Attributes())
				for _, sl := range rl.ScopeLogs().All() {
					for _, lr := range sl.LogRecords().All() {
						o.count(lr.Attributes())
					}
				}
				out = append(out, o)
			}
		}
		return out, nil
	}
	if md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(line); err == nil && md.ResourceMetrics().Len() > 0 {
		owns := resourceTenants(md.ResourceMetrics().Len(), func(i int) pcommon.Map { return md.ResourceMetrics().At(i).Resource().Attributes() })
		c.sinkM.Reset()
		if err := c.mets.ConsumeMetrics(ctx, md); err != nil {
			return nil, err
		}
		for _, got := range c.sinkM.AllMetrics() {
			for i, rm := range got.ResourceMetrics().All() {
				o := resourceOutcome(policy.SignalMetrics, owns[i], rm.Resource().Attributes())
				for _, sm := range rm.ScopeMetrics().All() {
					for _, m := range sm.Metrics().All() {
						pdatacount.PointAttributes(m, o.count)
					}
				}
				out = append(out, o)
			}
		}
		return out, nil
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(line)
	if err != nil || td.ResourceSpans().Len() == 0 {
		return nil, errors.New("not an OTLP/JSON logs, metrics or traces request with resources")
	}
	owns := resourceTenants(td.ResourceSpans().Len(), func(i int) pcommon.Map { return td.ResourceSpans().At(i).Resource().Attributes() })
	c.sinkT.Reset()
	if err := c.trcs.ConsumeTraces(ctx, td); err != nil {
		return nil, err
	}
	for _, got := range c.sinkT.AllTraces() {
		for i, rs := range got.ResourceSpans().All() {
			o := resourceOutcome(policy.SignalTraces, owns[i], rs.Resource().Attributes())
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					o.count(sp.Attributes())
				}
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// resourceTenants reads each resource's tenant before the chain rewrites
// it: the tenant whose data the resource is.
func resourceTenants(n int, at func(int) pcommon.Map) []string {
	owns := make([]string, n)
	for i := range owns {
		owns[i], _ = identity.TenantOf(at(i))
	}
	return owns
}

func resourceOutcome(sig policy.Signal, own string, res pcommon.Map) outcome {
	o := outcome{signal: sig, own: own}
	o.tenant, _ = identity.TenantOf(res)
	if v, ok := res.Get(identity.AttrQuarantineReason); ok {
		o.reason = v.AsString()
	}
	_, o.region = res.Get(identity.AttrResidencyViolation)
	return o
}

// count adds one record with attrs.
func (o *outcome) count(attrs pcommon.Map) {
	o.records++
	if _, ok := attrs.Get(identity.AttrRetentionExpired); ok {
		o.expired++
	}
}

// routerConfig is what the dry run reads of a collector config: every
// tenantrouter exporter's backends and their regions, and the
// tenantretention processor's region.
type routerConfig struct {
	backends map[string]string // name -> region
	region   string
}

func loadRouterConfig(path string) (*routerConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Exporters map[string]struct {
			Backends map[string]struct {
				Region string `yaml:"region"`
			} `yaml:"backends"`
		} `yaml:"exporters"`
		Processors map[string]struct {
			Region string `yaml:"region"`
		} `yaml:"processors"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rc := &routerConfig{backends: map[string]string{}}
	routers := 0
	for id, e := range doc.Exporters {
		if componentType(id) != "tenantrouter" {
			continue
		}
		routers++
		for name, b := range e.Backends {
			rc.backends[name] = b.Region
		}
	}
	if routers == 0 {
		return nil, fmt.Errorf("%s: no tenantrouter exporter", path)
	}
	for id, p := range doc.Processors {
		if componentType(id) == "tenantretention" {
			rc.region = p.Region
		}
	}
	return rc, nil
}

// componentType is the type part of a collector component id (type[/name]).
func componentType(id string) string {
	t, _, _ := strings.Cut(id, "/")
	return t
}

// unknownBackends lists, sorted, "tenant (signal): name" for every backend
// pol names that no tenantrouter of the config has; "defaults" for the
// defaults block's.
func (rc *routerConfig) unknownBackends(pol *policy.Policy) []string {
	var out []string
	check := func(who string, t *policy.Tenant) {
		for _, sig := range policy.Signals {
			for _, name := range t.Backends[sig] {
				if _, ok := rc.backends[name]; !ok {
					out = append(out, fmt.Sprintf("%s (%s): %s", who, sig, name))
				}
			}
		}
	}
	check("defaults", &pol.Defaults)
	for _, id := range pol.TenantIDs() {
		t, _ := pol.Tenant(id)
		check(id, t)
	}
	return slices.Compact(out)
}

// routes is where pol sends a tenant's signal: its policy backends, or the
// router's defaults when it names none.
func routes(pol *policy.Policy, tenant string, sig policy.Signal) string {
	if t, ok := pol.Tenant(tenant); ok && len(t.Backends[sig]) > 0 {
		return strings.Join(t.Backends[sig], ",")
	}
	return "(router defaults)"
}

// change tallies records of one tenant and signal under one heading.
type changeKey struct {
	tenant string
	signal policy.Signal
	detail string
}

type dryRunReport struct {
	lines, records int
	quarantined    map[changeKey]int // detail: reason
	retention      map[changeKey]int
	residency      map[changeKey]int
	routed         map[changeKey]int // detail: "old -> new"
	// lost is the tenants whose own data NEW loses and OLD kept.
	lost map[string]int
}

func (r *dryRunReport) compare(oldPol, newPol *policy.Policy, olds, news []outcome) error {
	if len(olds) != len(news) {
		return fmt.Errorf("the chains returned %d and %d resources", len(olds), len(news))
	}
	for i, o := range olds {
		n := news[i]
		r.records += n.records
		own := n.own
		switch {
		case n.tenant == policy.Quarantine && o.tenant != policy.Quarantine:
			r.quarantined[changeKey{own, n.signal, n.reason}] += n.records
		case n.region && !o.region && o.tenant != policy.Quarantine:
			r.residency[changeKey{own, n.signal, ""}] += n.records
		case n.tenant != policy.Quarantine && !n.region && n.expired > o.expired && o.tenant != policy.Quarantine && !o.region:
			r.retention[changeKey{own, n.signal, ""}] += n.expired - o.expired
		}
		if d := n.lost() - o.lost(); d > 0 && own != "" && own != policy.Quarantine && own != policy.Governance {
			r.lost[own] += d
		}
		if n.tenant != policy.Quarantine && n.lost() < n.records {
			if was, now := routes(oldPol, n.tenant, n.signal), routes(newPol, n.tenant, n.signal); was != now {
				r.routed[changeKey{n.tenant, n.signal, was + " -> " + now}] += n.records - n.lost()
			}
		}
	}
	return nil
}

// redactedClasses is, per tenant, the classes st redacted at least once.
func redactedClasses(st redact.Stats) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for k, n := range st.Redactions {
		if n == 0 {
			continue
		}
		if out[k.Tenant] == nil {
			out[k.Tenant] = map[string]bool{}
		}
		out[k.Tenant][k.Class] = true
	}
	return out
}

// classChanges lists "tenant: class" for every class a redacted for a
// tenant and b did not.
func classChanges(a, b map[string]map[string]bool) []string {
	var out []string
	for tenant, classes := range a {
		for class := range classes {
			if !b[tenant][class] {
				out = append(out, tenant+": "+class)
			}
		}
	}
	sort.Strings(out)
	return out
}

func printChanges(w io.Writer, heading string, m map[changeKey]int) {
	if len(m) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b changeKey) int {
		return cmp.Or(cmp.Compare(a.tenant, b.tenant), cmp.Compare(a.signal, b.signal), cmp.Compare(a.detail, b.detail))
	})
	fmt.Fprintln(w, heading+":")
	for _, k := range keys {
		detail := ""
		if k.detail != "" {
			detail = " " + k.detail
		}
		fmt.Fprintf(w, "  %s %s: %d records%s\n", k.tenant, k.signal, m[k], detail)
	}
}

// runPolicyTest is tenancyctl policy test: exit 0 when NEW keeps every
// tenant's own data OLD kept, 1 when it would quarantine or drop some (or
// names a backend the --config has not), 2 on a wrong command line.
func runPolicyTest(oldPath, newPath, samplePath, configPath string, stdout, stderr io.Writer) int {
	oldPol, errOld := policy.Load(oldPath)
	newPol, errNew := policy.Load(newPath)
	if err := errors.Join(errOld, errNew); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var rc *routerConfig
	region := ""
	if configPath != "" {
		var err error
		if rc, err = loadRouterConfig(configPath); err != nil {
			fmt.Fprintf(stderr, "tenancyctl policy test: %v\n", err)
			return 1
		}
		region = rc.region
	}
	ctx := context.Background()
	oldC, err := newChain(ctx, oldPol, region)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl policy test: %s: %v\n", oldPath, err)
		return 1
	}
	defer oldC.shutdown(ctx)
	newC, err := newChain(ctx, newPol, region)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl policy test: %s: %v\n", newPath, err)
		return 1
	}
	defer newC.shutdown(ctx)

	f, err := os.Open(samplePath)
	if err != nil {
		fmt.Fprintf(stderr, "tenancyctl policy test: %v\n", err)
		return 1
	}
	defer f.Close()
	rep := &dryRunReport{quarantined: map[changeKey]int{}, retention: map[changeKey]int{}, residency: map[changeKey]int{}, routed: map[changeKey]int{}, lost: map[string]int{}}
	br := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			fmt.Fprintf(stderr, "tenancyctl policy test: %s:%d: %v\n", samplePath, lineNo, readErr)
			return 1
		}
		if line = bytes.TrimSpace(line); len(line) > 0 {
			rep.lines++
			olds, err1 := oldC.run(ctx, line)
			news, err2 := newC.run(ctx, line)
			err := errors.Join(err1, err2)
			if err == nil {
				err = rep.compare(oldPol, newPol, olds, news)
			}
			if err != nil {
				fmt.Fprintf(stderr, "tenancyctl policy test: %s:%d: %v\n", samplePath, lineNo, err)
				return 1
			}
		}
		if readErr != nil {
			break
		}
	}

	fmt.Fprintf(stdout, "policy %s -> %s: %d requests, %d records\n", oldPol.Version, newPol.Version, rep.lines, rep.records)
	printChanges(stdout, "newly quarantined (tenant signal: records reason)", rep.quarantined)
	printChanges(stdout, "newly dropped by retention", rep.retention)
	printChanges(stdout, "newly dropped by residency (region "+region+")", rep.residency)
	printChanges(stdout, "routed elsewhere", rep.routed)
	oldClasses, newClasses := redactedClasses(oldC.stats), redactedClasses(newC.stats)
	for _, s := range []struct {
		heading string
		list    []string
	}{{"newly redacted classes", classChanges(newClasses, oldClasses)}, {"no longer redacted classes", classChanges(oldClasses, newClasses)}} {
		if len(s.list) > 0 {
			fmt.Fprintln(stdout, s.heading+":")
			for _, l := range s.list {
				fmt.Fprintln(stdout, "  "+l)
			}
		}
	}
	code := 0
	if rc != nil {
		if unknown := rc.unknownBackends(newPol); len(unknown) > 0 {
			code = 1
			fmt.Fprintf(stdout, "backends %s names that no tenantrouter in %s has:\n", newPath, configPath)
			for _, u := range unknown {
				fmt.Fprintln(stdout, "  "+u)
			}
		}
	}
	if len(rep.lost) > 0 {
		code = 1
		tenants := slices.Sorted(maps.Keys(rep.lost))
		for _, t := range tenants {
			fmt.Fprintf(stdout, "FAIL %s: %d of its own records would be quarantined or dropped under %s and were not under %s\n", t, rep.lost[t], newPath, oldPath)
		}
	}
	if code == 0 {
		fmt.Fprintln(stdout, "no tenant loses data it kept")
	}
	return code
}
