package peertest

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// FreeAddr returns a 127.0.0.1 address whose port was free at the time of
// the call, for a peer or a collector to listen on.
//
// The port comes from below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range, 32768-60999 by default), which the kernel
// never hands to a connecting socket or to a listener on port 0. A port
// found by listening on :0 and closing, as before, lies in that range, and
// any outgoing connection of the test, a peer or a collector could take it
// before the process meant for it bound it (bench-e2e failed once with
// "bind: address already in use"). Calls in one process walk the ports
// from a random start, so they never return one port twice, and test
// processes running beside each other rarely try the same.
func FreeAddr(t testing.TB) string {
	t.Helper()
	free.Lock()
	defer free.Unlock()
	if free.hi == 0 {
		free.lo, free.hi = belowEphemeral()
		if free.hi > free.lo {
			free.next = free.lo + rand.IntN(free.hi-free.lo)
		}
	}
	for range free.hi - free.lo {
		p := free.next
		if free.next++; free.next >= free.hi {
			free.next = free.lo
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		if l, err := net.Listen("tcp", addr); err == nil {
			_ = l.Close()
			return addr
		}
	}
	// No room below the ephemeral range (or every port there taken).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// free is where FreeAddr's walk is: ports lo to hi-1, next the next one.
var free struct {
	sync.Mutex
	lo, hi, next int
}

// belowEphemeral is the ports FreeAddr walks: up to 12,000 ports just
// below the ephemeral range, none under 10,000 (services' well-known and
// registered ports); lo == hi when there is no such room.
func belowEphemeral() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				hi = n
			}
		}
	}
	lo = max(hi-12000, 10000)
	if hi < lo {
		return 0, 0
	}
	return lo, hi
}
