package tenantrouterexporter

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/tenancyhq/tenancy/internal/localstore"
)

// TestOfferDuringShutdown: a producer inside the router (the store's
// audit anchors, sent to _governance from the anchor loop) may offer a
// batch while Shutdown closes the queues; the offer is refused as
// shutdown, never sent on a closed channel (a panic, and under -race a
// data race, before the queue's close and sends were ordered).
func TestOfferDuringShutdown(t *testing.T) {
	for range 20 {
		cfg := createDefaultConfig().(*Config)
		cfg.Backends = map[string]*BackendConfig{"store": {Type: TypeLocalstore, Directory: t.TempDir()}}
		t.Setenv(localstore.MasterKeyEnv, strings.Repeat("c3", 32))
		e := startRouter(t, cfg, "tenants:\n  acme: {}\n")
		// The queue exists before Shutdown, so the offers race its close.
		if err := e.r.consumeLogs(context.Background(), batchOf("_governance", "m", []string{"x"})); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = e.r.consumeLogs(context.Background(), batchOf("_governance", "m", []string{"x"}))
				}
			}
		}()
		e.stop(t)
		close(stop)
		wg.Wait()
	}
}
