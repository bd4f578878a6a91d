package peertest

import (
	"os"
	"testing"
	"time"
)

var sink []byte

// This process's own counters move as it works and allocates.
func TestCPUSecondsAndPeakRSS(t *testing.T) {
	pid := os.Getpid()
	cpu0 := CPUSeconds(t, pid)
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
	}
	if d := CPUSeconds(t, pid) - cpu0; d < 0.1 {
		t.Fatalf("300 ms of spinning counted as %.2f CPU-seconds", d)
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
