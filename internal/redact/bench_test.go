package redact

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// benchPolicy declares n tenants with four identifiers each and the classes
// a cautious tenant redacts.
func benchPolicy(tb testing.TB, n int) *policy.Policy { return benchPolicyWith(tb, n, nil) }

// benchPolicyWith is benchPolicy with more of each tenant's keys written
// by more(i).
func benchPolicyWith(tb testing.TB, n int, more func(y *strings.Builder, i int)) *policy.Policy {
	var y strings.Builder
	y.WriteString("defaults:\n  redaction:\n    classes: {email: mask, credit_card: mask, jwt: mask, auth_header: mask, secret_pair: mask, aws_key: mask, private_key: remove, ipv4: mask, us_ssn: mask}\ntenants:\n")
	for i := range n {
		fmt.Fprintf(&y, "  cust%05d:\n    identifiers: [cust%05d, cust%05d.example, \"ak_cust%05d_\", \"CN-%05d-\"]\n", i, i, i, i, i)
		if more != nil {
			more(&y, i)
		}
	}
	p, err := policy.Parse("bench.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

const benchRecords = 100

// benchLogs is one batch of the owner's records: mostly ordinary text, one
// in ten carrying another tenant's e-mail address.
func benchLogs(owner string, foreignDomain string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr(identity.AttrTenantID, owner)
	ra.PutStr("service.name", "checkout")
	ra.PutStr("host.name", "ip-10-0-3-17.eu-west-1.compute.internal")
	ra.PutStr("k8s.pod.name", "checkout-7d9f8b6c5-x2x9q")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range benchRecords {
		lr := lrs.AppendEmpty()
		body := "GET /api/v2/orders/83412/items?page=2 took 34ms status=200 user_agent=Mozilla/5.0 (X11; Linux x86_64)"
		if i%10 == 0 {
			body = "notify billing-ops@" + foreignDomain + " about invoice 2024-11-18 retry=3"
		}
		lr.Body().SetStr(body)
		a := lr.Attributes()
		a.PutStr("http.method", "GET")
		a.PutStr("http.route", "/api/v2/orders/{id}/items")
		a.PutStr("trace.note", "cache miss on shard 7, fetched from primary")
		a.PutInt("http.status_code", 200)
		a.PutStr("user.id", fmt.Sprintf("u-%08d", i))
		a.PutStr("thread.name", "worker-12")
	}
	return ld
}

// readAll is the floor: visit every string the redactor would visit.
func readAll(ld plog.Logs) int {
	n := 0
	var visit func(v pcommon.Value)
	visitMap := func(m pcommon.Map) {
		for k, v := range m.All() {
			n += len(k)
			visit(v)
		}
	}
	visit = func(v pcommon.Value) {
		switch v.Type() {
		case pcommon.ValueTypeStr:
			n += len(v.Str())
		case pcommon.ValueTypeMap:
			for k, e := range v.Map().All() {
				n += len(k)
				visit(e)
			}
		case pcommon.ValueTypeSlice:
			for _, e := range v.Slice().All() {
				visit(e)
			}
		}
	}
	for _, rl := range ld.ResourceLogs().All() {
		visitMap(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			visitMap(sl.Scope().Attributes())
			for _, lr := range sl.LogRecords().All() {
				visitMap(lr.Attributes())
				visit(lr.Body())
			}
		}
	}
	return n
}

// BenchmarkLogs measures the redaction of one record at 10 and 10,000
// tenants beside the floor, a bare pass over the same pdata. Every variant
// copies the batch first (redaction mutates it), so the copy is in all
// numbers alike.
func BenchmarkLogs(b *testing.B) {
	for _, n := range []int{10, 10000} {
		p := benchPolicy(b, n)
		r, err := New(p, Options{})
		require.NoError(b, err)
		src := benchLogs("cust00001", fmt.Sprintf("cust%05d.example", n-1))
		b.Run(fmt.Sprintf("floor/tenants=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			sink := 0
			for b.Loop() {
				ld := plog.NewLogs()
				src.CopyTo(ld)
				sink += readAll(ld)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
			_ = sink
		})
		b.Run(fmt.Sprintf("redact/tenants=%d", n), func(b *testing.B) {
			st := redactCopies(b, r, src)
			if st.Redactions[StatKey{"cust00001", ClassForeignTenant}] != benchRecords/10 {
				b.Fatalf("stats %v", st.Redactions)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
		})
	}
}

// BenchmarkMatcherFind is the identifier search alone on one log line.
func BenchmarkMatcherFind(b *testing.B) {
	line := "GET /api/v2/orders/83412/items?page=2 took 34ms status=200 notify billing-ops@cust00009.example"
	for _, n := range []int{10, 10000} {
		m, err := NewMatcher(benchPolicy(b, n))
		require.NoError(b, err)
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var spans []Span
			for b.Loop() {
				spans = m.Find(spans[:0], line, "cust00001")
			}
			if len(spans) != 1 {
				b.Fatalf("spans %v", spans)
			}
		})
	}
}

// BenchmarkNewMatcher is the rebuild cost of a policy reload.
func BenchmarkNewMatcher(b *testing.B) {
	for _, n := range []int{10, 10000} {
		p := benchPolicy(b, n)
		b.Run(fmt.Sprintf("tenants=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewMatcher(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchRulesPolicy is benchPolicy with 100 tenant-defined rules across its
// tenants: tenant i applies the ten rules i*10 .. i*10+9 (mod 100), so each
// rule is declared by n/10 tenants and every rule's keyword is in the
// automaton.
func benchRulesPolicy(tb testing.TB, n int) *policy.Policy {
	return benchPolicyWith(tb, n, func(y *strings.Builder, i int) {
		y.WriteString("    redaction:\n      rules:\n")
		for k := range 10 {
			j := (i*10 + k) % 100
			fmt.Fprintf(y, "        rule%02d: {pattern: 'R%02dX-[0-9]{8}', keywords: [R%02dX-], action: mask}\n", j, j, j)
		}
	})
}

// BenchmarkTenantRules compares clean records (nothing to redact) under a
// policy of 1,000 tenants without and with 100 tenant-defined rules, in one
// run: benchstat -col /impl.
func BenchmarkTenantRules(b *testing.B) {
	const n = 1000
	src := benchLogs("cust00001", "cust00001.example")
	for _, lr := range src.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		lr.Body().SetStr("GET /api/v2/orders/83412/items?page=2 took 34ms status=200 user_agent=Mozilla/5.0 (X11; Linux x86_64)")
	}
	for _, impl := range []string{"builtin", "rules"} {
		p := benchPolicy(b, n)
		if impl == "rules" {
			p = benchRulesPolicy(b, n)
		}
		r, err := New(p, Options{})
		require.NoError(b, err)
		b.Run("impl="+impl, func(b *testing.B) {
			st := redactCopies(b, r, src)
			if st.Total() != 0 {
				b.Fatalf("clean records changed: %v", st.Redactions)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchRecords), "ns/record")
		})
	}
	// The rules are really there: one of the owner's is found.
	r, err := New(benchRulesPolicy(b, n), Options{})
	require.NoError(b, err)
	if got, _ := redactFor(r, "cust00001", "id R10X-12345678"); got != "id <redacted:rule10>" {
		b.Fatalf("rule not applied: %q", got)
	}
}

// redactCopies is a benchmark loop: redact a fresh copy of src (redaction
// mutates it) and return the last Stats.
func redactCopies(b *testing.B, r *Redactor, src plog.Logs) Stats {
	b.ReportAllocs()
	var st Stats
	for b.Loop() {
		ld := plog.NewLogs()
		src.CopyTo(ld)
		st = r.Logs(ld)
	}
	return st
}
