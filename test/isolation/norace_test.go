//go:build !race

package isolation_test

const raceEnabled = false
