package peertest

import (
	"net"
	"strconv"
	"testing"
)

// Every address FreeAddr gives lies below the kernel's ephemeral range,
// where no outgoing connection and no listener on port 0 can take it
// before the caller binds it, is free to bind, and is not given twice.
func TestFreeAddrIsBelowTheEphemeralRangeAndNeverRepeats(t *testing.T) {
	lo, hi := belowEphemeral()
	if hi <= lo {
		t.Fatalf("no ports below the ephemeral range here (%d-%d)", lo, hi)
	}
	seen := map[string]bool{}
	for range 2000 {
		addr := FreeAddr(t)
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		if p < lo || p >= hi {
			t.Fatalf("port %d outside %d-%d", p, lo, hi-1)
		}
		if seen[addr] {
			t.Fatalf("%s given twice", addr)
		}
		seen[addr] = true
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s not free: %v", addr, err)
		}
		_ = l.Close()
	}
}
