package peertest

import (
	"os"
	"syscall"
	"testing"
)

var sink []byte

// rusageSeconds is this process's CPU time by getrusage, a counter
// independent of /proc's.
func rusageSeconds(t *testing.T) float64 {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// This process's own counters move as it works and allocates. The spin
// lasts until getrusage has counted 0.3 CPU-seconds, not for a wall-clock
// span: on a loaded machine 300 ms of wall time held 0.04 CPU-seconds (CI).
func TestCPUSecondsAndPeakRSS(t *testing.T) {
	pid := os.Getpid()
	cpu0, ru0 := CPUSeconds(t, pid), rusageSeconds(t)
	for rusageSeconds(t)-ru0 < 0.3 {
	}
	// /proc counts in 10 ms ticks, and the reading after the spin comes
	// later than getrusage's.
	if d := CPUSeconds(t, pid) - cpu0; d < 0.25 {
		t.Fatalf("0.3 CPU-seconds of spinning (getrusage) counted as %.2f CPU-seconds", d)
	}

	rss0 := PeakRSS(t, pid)
	sink = make([]byte, 64<<20)
	for i := 0; i < len(sink); i += 4096 {
		sink[i] = 1 // touch every page so it becomes resident
	}
	if d := PeakRSS(t, pid) - rss0; d < 60<<20 {
		t.Fatalf("touching 64 MiB raised the peak RSS by %d bytes", d)
	}
}
