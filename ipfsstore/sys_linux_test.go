package ipfsstore

import (
	"fmt"
	"os"
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

// bytesRead is how many bytes the process has read with read(2) and its
// kin (rchar in /proc/self/io), or 0 if it cannot tell.
func bytesRead() uint64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0
	}
	var n uint64
	fmt.Sscanf(string(b), "rchar: %d", &n)
	return n
}
