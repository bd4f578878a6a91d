//go:build race

package isolation_test

// Under the race detector every pdata access costs several times more; the
// default count keeps `go test -race` on two cores near a minute.
const raceEnabled = true
