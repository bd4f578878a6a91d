//go:build !race

package tenantredactprocessor

const raceEnabled = false
