package peertest

import (
	"testing"
	"time"
)

// StartKafka runs the kfake broker (hack/kfake, docs/peers.md) on a free
// 127.0.0.1 port until the test ends and returns its address once it is
// ready. args are extra kfake flags (e.g. -data-dir, -c key=value).
func StartKafka(t testing.TB, args ...string) string {
	t.Helper()
	addr := FreeAddr(t)
	StartKafkaAt(t, addr, args...)
	return addr
}

// StartKafkaAt is StartKafka on a given address, returning the process,
// so a test can stop the broker and start it again where its clients
// expect it (with the same -data-dir: the same topics, records and
// offsets).
func StartKafkaAt(t testing.TB, addr string, args ...string) *Process {
	t.Helper()
	ready := FreeAddr(t)
	return StartProcess(t, 30*time.Second, "http://"+ready+"/ready", Binary(t, "TENANCY_KFAKE", "kfake"),
		append([]string{"-listen", addr, "-ready", ready}, args...)...)
}
