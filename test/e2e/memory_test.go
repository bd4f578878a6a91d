package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tenancyhq/tenancy/internal/peertest"
)

// memoryRSSBound is what the collector's resident set may peak at (VmHWM)
// while four copies of every request below arrive at once on each HTTP
// ingest path, round after round: 600 MiB. Before the edge limits, four
// 14.7 MB nested-kvlist requests took the quickstart collector from 163 MB
// to 998 MB.
const memoryRSSBound = 600 << 20

// TestMemoryUnderAmplificationRequests runs the quickstart config (its
// receivers' limits, the full pipeline to the local store) with the
// tenantgateway beside the stock otlp receiver, and sends each path the
// worst OTLP/JSON requests: 14 MB of nested kvlists, 4 MB nested as deep
// as it goes, and the widest bodies each path lets through.
func TestMemoryUnderAmplificationRequests(t *testing.T) {
	gatewayAddr := peertest.FreeAddr(t)
	cfg := readRepoFile(t, "config/quickstart.yaml")
	for _, r := range [][2]string{
		{"127.0.0.1:4317", "{{GRPC}}"}, {"127.0.0.1:4318", "{{HTTP}}"}, {"127.0.0.1:13133", "{{HEALTH}}"},
		{"${env:TENANCY_POLICY}", "{{POLICY}}"}, {"${env:TENANCY_DATA_DIR}", "{{DATA}}"},
		{"\nreceivers:\n", "\nreceivers:\n  tenantgateway:\n    endpoint: " + gatewayAddr + "\n    auth: {authenticator: tenantpolicy}\n"},
		{"receivers: [otlp]", "receivers: [otlp, tenantgateway]"},
		{"\nservice:\n", "\nservice:\n  telemetry:\n    metrics:\n      level: none\n"},
	} {
		require.Contains(t, cfg, r[0], "config/quickstart.yaml changed: update this test")
		cfg = strings.ReplaceAll(cfg, r[0], r[1])
	}
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey) // inherited by the collector
	c := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), cfg)
	pid := c.cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")
	t.Logf("collector RSS at start: %d MiB", base>>20)

	const key = "acme-demo-key-0000000001"
	requests := []struct {
		name string
		body []byte
		// What each path answers: the stock otlp receiver only knows its
		// max_request_body_size (1 MiB in the quickstart; 400 over it).
		otlp, gateway int
	}{
		{"14 MB of nested kvlists", nestedKvlists(14 << 20), 400, 413},
		{"1 MiB nested as deep as it goes", deepKvlist(1<<20 - 1024), 200, 400},
		{"the widest kvlist otlp lets through", wideKvlist(1<<20 - 1024), 200, 413},
		{"the widest kvlist the gateway lets through", wideKvlist(750 << 10), 200, 200},
	}
	for _, r := range requests {
		t.Logf("%s: %d bytes", r.name, len(r.body))
	}
	targets := []struct {
		name, url string
		want      func(i int) int
	}{
		{"otlp", "http://" + c.httpAddr + "/v1/logs", func(i int) int { return requests[i].otlp }},
		{"tenantgateway", "http://" + gatewayAddr + "/v1/logs", func(i int) int { return requests[i].gateway }},
	}

	var (
		peakRSS int64
		stop    = make(chan struct{})
		sampled sync.WaitGroup
	)
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				peakRSS = max(peakRSS, procStatusOr(pid, "VmRSS"))
			}
		}
	}()
	client := &http.Client{Timeout: 2 * time.Minute}
	stored := 0
	for round := range 3 {
		for _, tg := range targets {
			for i, r := range requests {
				var wg sync.WaitGroup
				statuses := make([]int, 4)
				for k := range statuses {
					wg.Add(1)
					go func() {
						defer wg.Done()
						statuses[k] = postStatus(client, tg.url, key, r.body)
					}()
				}
				wg.Wait()
				if round == 0 {
					t.Logf("after %s, %s: VmHWM %d MiB", tg.name, r.name, procStatusOr(pid, "VmHWM")>>20)
				}
				for _, s := range statuses {
					if s == http.StatusOK {
						stored++
					}
					// 429 is the gateway's concurrency limit doing its work.
					if s != http.StatusTooManyRequests || tg.name != "tenantgateway" {
						assert.Equal(t, tg.want(i), s, "round %d, %s, %s", round, tg.name, r.name)
					}
				}
			}
		}
		// Each round starts once the last is in the store, so the peak is
		// the edge's and the pipeline's, not a backlog of rounds (the
		// router's queues are bounded in batches, not bytes).
		want := fmt.Sprintf("n\n%d\n", stored)
		waitFor(t, "round's records in acme's store", time.Minute, func() bool {
			code, out := ctl(t, "query", "--data", c.dataDir, "--tenant", "acme", "--format", "csv", "SELECT count(*) AS n FROM logs")
			return code == 0 && out == want
		})
	}
	close(stop)
	sampled.Wait()
	require.NoError(t, c.cmd.Process.Signal(syscall.Signal(0)), "the collector is still running")
	hwm := procStatus(t, pid, "VmHWM")
	t.Logf("collector RSS: %d MiB at start, sampled peak %d MiB, VmHWM %d MiB (bound %d MiB)", base>>20, peakRSS>>20, hwm>>20, memoryRSSBound>>20)
	assert.Less(t, hwm, int64(memoryRSSBound), "the collector's peak RSS")
}

func postStatus(client *http.Client, url, key string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return -1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	_, _ = bytes.NewBuffer(nil).ReadFrom(resp.Body)
	return resp.StatusCode
}

// procStatus reads a kB field of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	v := procStatusOr(pid, field)
	require.Positive(t, v, "%s of pid %d", field, pid)
	return v
}

func procStatusOr(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

const logsHead, logsTail = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeLogs":[{"logRecords":[`, `]}]}]}`

// nestedKvlists is log records whose bodies nest 30 kvlists each (within
// every nesting limit), about size bytes in all.
func nestedKvlists(size int) []byte {
	rec := `{"body":` + strings.Repeat(`{"kvlistValue":{"values":[{"key":"k","value":`, 30) + `{"stringValue":"x"}` + strings.Repeat(`}]}}`, 30) + `}`
	return fill(rec, size)
}

// deepKvlist is one log record whose body nests kvlists as deep as size
// bytes allow.
func deepKvlist(size int) []byte {
	const open, closing = `{"kvlistValue":{"values":[{"key":"k","value":`, `}]}}`
	depth := (size - len(logsHead) - len(logsTail)) / (len(open) + len(closing))
	return []byte(logsHead + `{"body":` + strings.Repeat(open, depth) + `{}` + strings.Repeat(closing, depth) + `}` + logsTail)
}

// wideKvlist is one log record whose body is a kvlist of empty entries.
func wideKvlist(size int) []byte {
	const head, tail = logsHead + `{"body":{"kvlistValue":{"values":[`, `]}}}` + logsTail
	n := (size - len(head) - len(tail)) / 3
	return []byte(head + strings.Repeat(`{},`, n) + `{}` + tail)
}

func fill(item string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(logsHead + item)
	for b.Len()+len(item)+len(logsTail) < size {
		b.WriteString("," + item)
	}
	b.WriteString(logsTail)
	return b.Bytes()
}
