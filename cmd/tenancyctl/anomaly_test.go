package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// series is a NAB CSV of n steady rows with a spike at row spikeAt (0-based;
// -1 for none).
func series(n, spikeAt int) string {
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	t := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := 100 + float64(i%7)
		if i == spikeAt {
			v = 5000
		}
		fmt.Fprintf(&b, "%s,%g\n", t.Add(time.Duration(i)*time.Minute).Format("2006-01-02 15:04:05"), v)
	}
	return b.String()
}

func score(t *testing.T, row string) float64 {
	t.Helper()
	f := strings.Split(row, ",")
	require.Len(t, f, 3, row)
	v, err := strconv.ParseFloat(f[2], 64)
	require.NoError(t, err)
	return v
}

func TestAnomalyReplayStdout(t *testing.T) {
	in := writeFile(t, "in.csv", series(60, 50))
	code, out, errOut := tenancyctl(t, "", "anomaly", "replay", "--in", in, "--probation", "20")
	require.Equal(t, 0, code, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 61)
	assert.Equal(t, "timestamp,value,anomaly_score", lines[0])
	assert.Equal(t, "2026-01-05 00:00:00,100,0.000000", lines[1])
	spike := strings.Split(lines[51], ",")
	assert.Equal(t, "5000", spike[1])
	assert.Greater(t, score(t, lines[51]), 0.5, "the spike row scores above the default threshold")
	for i, l := range lines[1:50] {
		assert.Less(t, score(t, l), 0.5, "row %d", i)
	}
}

func TestAnomalyReplayOutFileAndSensitivity(t *testing.T) {
	in := writeFile(t, "in.csv", series(60, 50))
	outLow := filepath.Join(t.TempDir(), "low.csv")
	outHigh := filepath.Join(t.TempDir(), "high.csv")
	code, stdout, errOut := tenancyctl(t, "", "anomaly", "replay", "--in", in, "--out", outLow, "--sensitivity", "0", "--probation", "20")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, stdout)
	code, _, errOut = tenancyctl(t, "", "anomaly", "replay", "--in", in, "--out", outHigh, "--sensitivity", "1", "--probation", "20")
	require.Equal(t, 0, code, errOut)
	low, err := os.ReadFile(outLow)
	require.NoError(t, err)
	high, err := os.ReadFile(outHigh)
	require.NoError(t, err)
	lowSpike := score(t, strings.Split(string(low), "\n")[51])
	highSpike := score(t, strings.Split(string(high), "\n")[51])
	assert.Less(t, lowSpike, highSpike, "higher sensitivity, higher score")
}

func TestAnomalyReplayMalformed(t *testing.T) {
	in := writeFile(t, "bad.csv", "timestamp,value\n2026-01-05 00:00:00,1\n2026-01-05 00:01:00,abc\n")
	out := filepath.Join(t.TempDir(), "out.csv")
	code, _, errOut := tenancyctl(t, "", "anomaly", "replay", "--in", in, "--out", out)
	assert.Equal(t, 1, code)
	assert.Equal(t, fmt.Sprintf("tenancyctl anomaly replay: %s: line 3: value \"abc\" is not a number\n", in), errOut)
	assert.NoFileExists(t, out, "no half-written output")

	code, _, errOut = tenancyctl(t, "", "anomaly", "replay", "--in", filepath.Join(t.TempDir(), "missing.csv"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")
}

// A row that goes back in time is scored where it arrives, as the connector
// scores a late record: one output row per input row, in input order.
func TestAnomalyReplayOutOfOrder(t *testing.T) {
	in := writeFile(t, "back.csv", "timestamp,value\n2026-01-05 00:01:00,1\n2026-01-05 00:00:00,2\n2026-01-05 00:02:00,3\n")
	code, out, errOut := tenancyctl(t, "", "anomaly", "replay", "--in", in)
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "timestamp,value,anomaly_score\n"+
		"2026-01-05 00:01:00,1,0.000000\n2026-01-05 00:00:00,2,0.000000\n2026-01-05 00:02:00,3,0.000000\n", out)
}

// Every file of the NAB corpus replays, among them
// realKnownCause/machine_temperature_system_failure.csv, whose row 10151
// goes back 55 minutes.
func TestAnomalyReplayEveryNABFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "nab", "data", "*", "*.csv"))
	require.NoError(t, err)
	require.Len(t, files, 58)
	dir := t.TempDir()
	for i, in := range files {
		out := filepath.Join(dir, fmt.Sprintf("%d.csv", i))
		code, _, errOut := tenancyctl(t, "", "anomaly", "replay", "--in", in, "--out", out)
		require.Equal(t, 0, code, "%s: %s", in, errOut)
		src, err := os.ReadFile(in)
		require.NoError(t, err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		srcRows := strings.Split(strings.TrimSpace(string(src)), "\n")[1:]
		gotRows := strings.Split(strings.TrimSpace(string(got)), "\n")[1:]
		require.Len(t, gotRows, len(srcRows), in)
		for k, row := range gotRows {
			// Same timestamp as the input row k: nothing reordered or dropped.
			require.Equal(t, strings.SplitN(srcRows[k], ",", 2)[0], strings.SplitN(row, ",", 2)[0], "%s row %d", in, k)
			if s := score(t, row); s < 0 || s > 1 {
				t.Fatalf("%s row %d: score %v outside [0,1]", in, k, s)
			}
		}
	}
}

func TestAnomalyUsage(t *testing.T) {
	code, out, _ := tenancyctl(t, "", "anomaly", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "tenancyctl anomaly replay --in FILE.csv")
	code, _, errOut := tenancyctl(t, "", "anomaly", "replay", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut, "--sensitivity")
	code, _, errOut = tenancyctl(t, "", "anomaly", "replay")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--in is required")
	code, _, errOut = tenancyctl(t, "", "anomaly", "replay", "--in", "x.csv", "--sensitivity", "2")
	assert.Equal(t, 2, code)
	assert.Equal(t, "tenancyctl anomaly replay: sensitivity: 2 is outside [0,1]\n", errOut)
	code, _, _ = tenancyctl(t, "", "anomaly", "score")
	assert.Equal(t, 2, code)
	code, out, _ = tenancyctl(t, "", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "tenancyctl anomaly replay")
}
