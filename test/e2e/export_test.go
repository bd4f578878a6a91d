package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndToEndExportRoundTrip: acme's records exported with tenancyctl
// export and sent, line by line, to a fresh collector with acme's key,
// land in its fresh store as the same rows.
func TestEndToEndExportRoundTrip(t *testing.T) {
	t.Setenv("TENANCY_MASTER_KEY", routerMasterKey)
	a := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), routerConfig)
	acme := map[string]string{"X-API-Key": demoKeys["acme"]}
	for _, sig := range signals {
		for i := range 3 {
			require.Equal(t, http.StatusOK, a.postHTTP(t, sig, newPayload(fmt.Sprintf("export-%s-%d", sig, i), ""), acme))
		}
	}
	a.stop()
	storeA := filepath.Join(a.dir, "store")
	cmd := exec.Command(tenancyctlBinary(t), "export", "--data", storeA, "--tenant", "acme")
	cmd.Env = append(os.Environ(), "TENANCY_MASTER_KEY="+routerMasterKey)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), errOut.String())
	assert.Contains(t, errOut.String(), "acme: 3 logs,")

	b := startCollectorWith(t, readRepoFile(t, "config/tenants.yaml"), routerConfig)
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		line := sc.Bytes()
		signal := map[string]string{`{"resourceLogs"`: "logs", `{"resourceMetrics"`: "metrics", `{"resourceSpans"`: "traces"}[string(line[:strings.IndexByte(string(line), ':')])]
		require.NotEmpty(t, signal, "%.60s", line)
		req, err := http.NewRequest(http.MethodPost, "http://"+b.httpAddr+"/v1/"+signal, bytes.NewReader(line))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", demoKeys["acme"])
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.NoError(t, sc.Err())
	storeB := filepath.Join(b.dir, "store")
	waitFor(t, "the records in the fresh store", 15*time.Second, func() bool {
		code, out := ctl(t, "query", "--data", storeB, "--tenant", "acme", "--format", "csv", "SELECT (SELECT count(*) FROM logs) + (SELECT count(*) FROM datapoints) + (SELECT count(*) FROM spans) AS n")
		return code == 0 && strings.HasPrefix(out, "n\n") && out != "n\n0\n" && out == rowsCount(t, storeA)
	})
	b.stop()
	for _, q := range []string{
		"SELECT time_unix_nano, observed_unix_nano, severity_number, severity_text, body, trace_id, span_id, service_name, scope_name, resource, attrs FROM logs ORDER BY id",
		"SELECT time_unix_nano, start_time_unix_nano, metric_name, metric_type, unit, value, count, sum, detail, service_name, scope_name, resource, attrs FROM datapoints ORDER BY id",
		"SELECT time_unix_nano, end_unix_nano, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service_name, scope_name, resource, attrs, events FROM spans ORDER BY id",
	} {
		codeA, rowsA := ctl(t, "query", "--data", storeA, "--tenant", "acme", "--format", "json", q)
		codeB, rowsB := ctl(t, "query", "--data", storeB, "--tenant", "acme", "--format", "json", q)
		require.Equal(t, 0, codeA, rowsA)
		require.Equal(t, 0, codeB, rowsB)
		assert.JSONEq(t, rowsA, rowsB, q)
	}
}

func rowsCount(t *testing.T, store string) string {
	_, out := ctl(t, "query", "--data", store, "--tenant", "acme", "--format", "csv", "SELECT (SELECT count(*) FROM logs) + (SELECT count(*) FROM datapoints) + (SELECT count(*) FROM spans) AS n")
	return out
}
