package peertest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// CPUSeconds is a process's user + system CPU time so far, from
// /proc/PID/stat: the measure of a collector's cost that other jobs on a
// shared machine disturb least (wall time counts their work too).
func CPUSeconds(t testing.TB, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("cpu seconds of %d: %v", pid, err)
	}
	// Fields after the command (in parentheses, which may hold spaces).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("cpu seconds of %d: utime %q stime %q", pid, f[11], f[12])
	}
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// PeakRSS is a process's peak resident set size in bytes (VmHWM in
// /proc/PID/status): what the machine had to give it at its busiest.
func PeakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("peak rss of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("peak rss of %d: %q", pid, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("peak rss of %d: no VmHWM in /proc/%d/status", pid, pid)
	return 0
}
