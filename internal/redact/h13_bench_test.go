package redact

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// The processor's bench-redaction batch (processor/tenantredactprocessor's
// benchLogs), rebuilt here so the scan's share of it can be measured in
// this package: n tenants each identified by its customer id, every class
// masked, records of tenant 1 with a ~115-byte body and eight string
// attributes.

func h13Tenant(i int) string { return fmt.Sprintf("cust%05d", i) }

func h13Policy(tb testing.TB, n int) *policy.Policy {
	var y strings.Builder
	y.WriteString("defaults:\n  redaction:\n    classes: {")
	for i, c := range policy.RedactionClasses {
		if i > 0 {
			y.WriteString(", ")
		}
		y.WriteString(c + ": mask")
	}
	y.WriteString("}\ntenants:\n")
	for i := range n {
		fmt.Fprintf(&y, "  %s:\n    identifiers: [%s]\n", h13Tenant(i), h13Tenant(i))
	}
	p, err := policy.Parse("bench.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

var h13Bodies = []string{
	"GET /api/v2/orders/%d/items?page=2 completed in 34ms status=200 bytes=5120 cache=miss region=eu-west-1 retries=0 ok",
	"payment authorised for order %d amount=129.90 currency=EUR provider=adyen latency_ms=212 attempt=1 risk_score=low",
	"worker picked job %d from queue invoices-high after 1.2s wait; rendering PDF template invoice-v3 with locale de-DE",
	"slow query on replica db-ro-2 took 845ms rows=%d plan=index_scan table=order_lines filter=status,created_at",
	"user session refreshed for account %d, token expires in 3600s, scopes=read:orders write:cart, client=web-checkout",
	"circuit breaker half-open for upstream inventory-svc after %d failures in 30s window; probing with one request now",
	"shipment label created carrier=dhl service=express parcels=%d weight_kg=2.4 destination_country=NL dispatch=today",
	"feature flag checkout_v2 evaluated true for cohort beta-testers rollout=25%% request_id=%d variant=B sticky=yes",
}

// h13Logs is the processor benchmark's batch with no record to change, so
// one batch can be redacted again and again.
func h13Logs(records int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr(identity.AttrTenantID, h13Tenant(1))
	ra.PutStr("service.name", "checkout")
	ra.PutStr("host.name", "ip-10-0-3-17.eu-west-1.compute.internal")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range records {
		lr := lrs.AppendEmpty()
		a := lr.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/v2/orders/{id}/items")
		a.PutStr("url.full", fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", h13Tenant(1), 80000+i*7))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0")
		a.PutStr("code.function", "OrderService.loadItems")
		a.PutStr("thread.name", fmt.Sprintf("worker-%d", i%16))
		a.PutStr("session.id", fmt.Sprintf("%016x", h13Session(i+1)))
		a.PutStr("deployment.environment", "production")
		lr.Body().SetStr(fmt.Sprintf(h13Bodies[i%len(h13Bodies)], 80000+i*7))
	}
	return ld
}

// BenchmarkH13CleanLogs is the redactor alone on the processor
// benchmark's clean records (95% of its batch), per record.
func BenchmarkH13CleanLogs(b *testing.B) {
	const records = 1000
	src := h13Logs(records)
	for _, n := range []int{10, 100, 1000, 10000} {
		r, err := New(h13Policy(b, n), Options{})
		require.NoError(b, err)
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := h13ThreadCPU()
			for b.Loop() {
				if st := r.Logs(src); st.Total() != 0 {
					b.Fatalf("clean records changed: %v", st.Redactions)
				}
			}
			b.ReportMetric(float64((h13ThreadCPU()-t0).Nanoseconds())/float64(b.N*records), "cpu-ns/record")
		})
	}
}

// BenchmarkH13Strings is the scan and prefilters (pass.layer) alone on
// each of the strings the clean record's redaction scans every time.
func BenchmarkH13Strings(b *testing.B) {
	r, err := New(h13Policy(b, 1000), Options{})
	require.NoError(b, err)
	strs := map[string]string{
		"body":    fmt.Sprintf(h13Bodies[0], 80007),
		"body4":   fmt.Sprintf(h13Bodies[4], 80035),
		"url":     fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", h13Tenant(1), 80007),
		"session": fmt.Sprintf("%016x", h13Session(2)),
		"thread":  "worker-11",
	}
	for _, name := range []string{"body", "body4", "url", "session", "thread"} {
		s := strs[name]
		ps := r.newPass()
		ps.ru = r.rulesFor(h13Tenant(1))
		b.Run("s="+name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := h13ThreadCPU()
			for b.Loop() {
				if _, changed, _ := ps.str(s); changed {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64((h13ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// h13Session is the benchmark's session id of record i-1.
func h13Session(i int) uint64 { return uint64(i) * 0x9E3779B97F4A7C15 }

// BenchmarkH13Steps is the automaton's walk alone (steps) on the strings
// of BenchmarkH13Strings.
func BenchmarkH13Steps(b *testing.B) {
	m, err := NewMatcher(h13Policy(b, 1000))
	require.NoError(b, err)
	strs := map[string]string{
		"body":    fmt.Sprintf(h13Bodies[0], 80007),
		"url":     fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", h13Tenant(1), 80007),
		"session": fmt.Sprintf("%016x", h13Session(2)),
		"thread":  "worker-11",
	}
	for _, name := range []string{"body", "url", "session", "thread"} {
		s := strs[name]
		states := make([]uint32, len(s))
		b.Run("s="+name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := h13ThreadCPU()
			for b.Loop() {
				m.ac.steps(s, states)
			}
			b.ReportMetric(float64((h13ThreadCPU()-t0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
