package tenantrouterexporter

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
)

// TestH29rRedirectsAndHTTP2CarryOnlyTheirTenant: the reused-memory body
// through the paths TestReusedMemoryCarriesOnlyItsTenant does not take:
// 307 redirects (http.Client replays the body through GetBody, another
// reference) and HTTP/2 over TLS (the stream's body writer closes the
// body on its own goroutine), with answers given before the body was
// read. Every body read whole holds only its header's tenant, every
// record arrives, and nothing panics. (Passes.)
func TestH29rRedirectsAndHTTP2CarryOnlyTheirTenant(t *testing.T) {
	for _, mode := range []string{"http1", "http2"} {
		t.Run(mode, func(t *testing.T) {
			const tenants, batches, records = 3, 8, 1200
			var n atomic.Int64
			var mu sync.Mutex
			got := map[string]int{}
			var foreign []string
			var h2 atomic.Bool
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.ProtoMajor == 2 {
					h2.Store(true)
				}
				switch k := n.Add(1); {
				case !strings.HasPrefix(r.URL.Path, "/again") && k%2 == 0:
					http.Redirect(w, r, "/again"+r.URL.Path, http.StatusTemporaryRedirect) // before the body
					return
				case k%5 == 0:
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				body, err := io.ReadAll(r.Body)
				if err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				tenant := r.Header.Get(DefaultTenantHeader)
				req := plogotlp.NewExportRequest()
				mu.Lock()
				defer mu.Unlock()
				if err := req.UnmarshalProto(body); err != nil {
					foreign = append(foreign, fmt.Sprintf("%s: a body that does not parse: %v", tenant, err))
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				rls := req.Logs().ResourceLogs()
				for i := range rls.Len() {
					lrs := rls.At(i).ScopeLogs().At(0).LogRecords()
					for j := range lrs.Len() {
						if b := lrs.At(j).Body().Str(); !strings.HasPrefix(b, tenant+" ") {
							foreign = append(foreign, fmt.Sprintf("%q in %s's request", b, tenant))
						}
					}
					got[tenant] += lrs.Len()
				}
			}))
			cc := confighttp.ClientConfig{}
			if mode == "http2" {
				s.EnableHTTP2 = true
				s.StartTLS()
				cc.TLS = configtls.ClientConfig{InsecureSkipVerify: true}
				cc.ForceAttemptHTTP2 = true
			} else {
				s.Start()
			}
			t.Cleanup(s.Close)
			cc.Endpoint = s.URL

			cfg := createDefaultConfig().(*Config)
			cfg.Backends = map[string]*BackendConfig{"remote": {Type: TypeOTLPHTTP, ClientConfig: cc, Retry: fastRetry(), Consumers: 2}}
			cfg.DefaultBackends = map[string][]string{"logs": {"remote"}, "metrics": {"remote"}, "traces": {"remote"}}
			cfg.QuarantineBackends, cfg.GovernanceBackends = []string{"remote"}, []string{"remote"}
			var pol strings.Builder
			pol.WriteString("tenants:\n")
			for i := range tenants {
				fmt.Fprintf(&pol, "  tenant%d: {}\n", i)
			}
			e := startRouter(t, cfg, pol.String())
			_, pool := e.r.protoUse([]string{"remote"}, []string{"remote"})
			require.True(t, pool, "not in reused memory: the test proves nothing")

			var wg sync.WaitGroup
			for i := range tenants {
				tenant := fmt.Sprintf("tenant%d", i)
				wg.Go(func() {
					for b := range batches {
						lines := make([]string, records)
						for k := range lines {
							lines[k] = fmt.Sprintf("%s batch %d record %d %s", tenant, b, k, strings.Repeat(tenant[len(tenant)-1:], 80))
						}
						assert.NoError(t, e.logs.ConsumeLogs(t.Context(), batchOf(tenant, "m", lines)))
					}
				})
			}
			wg.Wait()
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				mu.Lock()
				total := 0
				for _, c := range got {
					total += c
				}
				mu.Unlock()
				if total >= tenants*batches*records {
					break
				}
			}
			mu.Lock()
			defer mu.Unlock()
			assert.Empty(t, foreign)
			for i := range tenants {
				assert.Equal(t, batches*records, got[fmt.Sprintf("tenant%d", i)])
			}
			require.Equal(t, mode == "http2", h2.Load(), "the requests' protocol")
		})
	}
}
