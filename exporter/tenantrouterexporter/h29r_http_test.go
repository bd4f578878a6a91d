package tenantrouterexporter

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configtls"
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
			var n atomic.Int64
			tally := &tenantTally{got: map[string]int{}}
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
				if !tally.read(r) {
					w.WriteHeader(http.StatusBadRequest)
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
			sendEachTenant(t, cc, tally, 3, 8, 1200)
			require.Equal(t, mode == "http2", h2.Load(), "the requests' protocol")
		})
	}
}
