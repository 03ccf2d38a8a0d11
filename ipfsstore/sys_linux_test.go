package ipfsstore

import (
	"runtime"
	"syscall"
)

// peakRSSMB is the process's peak resident set size in MiB.
func peakRSSMB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // KiB on Linux
}

// quiesce waits until the disk has nothing left to write and the heap
// nothing left to collect, so a timed run does not pay for earlier ones.
func quiesce() {
	syscall.Sync()
	runtime.GC()
}
