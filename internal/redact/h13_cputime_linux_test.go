package redact

import (
	"syscall"
	"time"
	"unsafe"
)

// h13ThreadCPU is the CPU time of the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID); the caller locks its goroutine to the
// thread. On a shared machine it leaves out the time other jobs ran.
func h13ThreadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		panic(e)
	}
	return time.Duration(ts.Nano())
}
