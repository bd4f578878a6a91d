//go:build !linux

package redactbench

import "time"

// ThreadCPU is not measured off Linux: the cpu-ns metrics read 0 there.
func ThreadCPU() time.Duration { return 0 }
