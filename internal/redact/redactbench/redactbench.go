// Package redactbench builds the redaction benchmark's policy and batch
// (make bench-redaction): the processor's benchmark and the redact
// package's own measurements of the same records read them from here, so
// both time one load.
package redactbench

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tenancyhq/tenancy/internal/identity"
	"github.com/tenancyhq/tenancy/internal/policy"
)

// ForeignEvery is how often a record of Logs names another tenant: 5%.
const ForeignEvery = 20

// TenantName is tenant i's id, which is also its identifier.
func TenantName(i int) string { return fmt.Sprintf("cust%05d", i) }

// Policy declares n tenants, each identified by its customer id (which
// is also its domain's first label and its key prefix's middle), and
// redacts every PII and secret class.
func Policy(tb testing.TB, n int) *policy.Policy {
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
		fmt.Fprintf(&y, "  %s:\n    identifiers: [%s]\n", TenantName(i), TenantName(i))
	}
	p, err := policy.Parse("bench.yaml", []byte(y.String()))
	require.NoError(tb, err)
	return p
}

// Bodies are ordinary service logs, about 120 characters once filled in.
var Bodies = []string{
	"GET /api/v2/orders/%d/items?page=2 completed in 34ms status=200 bytes=5120 cache=miss region=eu-west-1 retries=0 ok",
	"payment authorised for order %d amount=129.90 currency=EUR provider=adyen latency_ms=212 attempt=1 risk_score=low",
	"worker picked job %d from queue invoices-high after 1.2s wait; rendering PDF template invoice-v3 with locale de-DE",
	"slow query on replica db-ro-2 took 845ms rows=%d plan=index_scan table=order_lines filter=status,created_at",
	"user session refreshed for account %d, token expires in 3600s, scopes=read:orders write:cart, client=web-checkout",
	"circuit breaker half-open for upstream inventory-svc after %d failures in 30s window; probing with one request now",
	"shipment label created carrier=dhl service=express parcels=%d weight_kg=2.4 destination_country=NL dispatch=today",
	"feature flag checkout_v2 evaluated true for cohort beta-testers rollout=25%% request_id=%d variant=B sticky=yes",
}

// SessionID is the session.id of record i-1 of Logs.
func SessionID(i int) string { return fmt.Sprintf("%016x", uint64(i)*0x9E3779B97F4A7C15) }

// Logs is one batch of records owned by tenant owner, each with a body
// and eight string attributes; one record in ForeignEvery carries tenant
// foreign's identifier, in turn as an e-mail in the body, the host of a
// URL attribute, and an API key attribute. With foreign < 0 no record
// needs a change.
func Logs(owner, foreign, records int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	ra := rl.Resource().Attributes()
	ra.PutStr(identity.AttrTenantID, TenantName(owner))
	ra.PutStr("service.name", "checkout")
	ra.PutStr("host.name", "ip-10-0-3-17.eu-west-1.compute.internal")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.EnsureCapacity(records)
	for i := range records {
		lr := lrs.AppendEmpty()
		body := fmt.Sprintf(Bodies[i%len(Bodies)], 80000+i*7)
		a := lr.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/v2/orders/{id}/items")
		a.PutStr("url.full", fmt.Sprintf("https://shop.%s.example/api/v2/orders/%d", TenantName(owner), 80000+i*7))
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0")
		a.PutStr("code.function", "OrderService.loadItems")
		a.PutStr("thread.name", fmt.Sprintf("worker-%d", i%16))
		a.PutStr("session.id", SessionID(i+1))
		a.PutStr("deployment.environment", "production")
		if foreign >= 0 && i%ForeignEvery == 0 {
			switch (i / ForeignEvery) % 3 {
			case 0:
				body = fmt.Sprintf("notify billing-ops@%s.example about invoice %d, dunning level 2, retry scheduled tomorrow morning", TenantName(foreign), i)
			case 1:
				a.PutStr("url.full", fmt.Sprintf("https://api.%s.example/v1/webhooks/%d", TenantName(foreign), i))
			case 2:
				a.PutStr("session.id", fmt.Sprintf("ak_%s_9f8e7d6c5b4a", TenantName(foreign)))
			}
		}
		lr.Body().SetStr(body)
	}
	return ld
}
