//go:build !linux

package redact

import "time"

// h13ThreadCPU is not measured off Linux: the cpu-ns metrics read 0 there.
func h13ThreadCPU() time.Duration { return 0 }
