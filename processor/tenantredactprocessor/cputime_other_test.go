//go:build !linux

package tenantredactprocessor

import "time"

// threadCPU is not measured off Linux: cpu-ns/record reads 0 there.
func threadCPU() time.Duration { return 0 }
