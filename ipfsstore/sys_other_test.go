//go:build !linux

package ipfsstore

import "runtime"

// peakRSSMB is not measured on this system.
func peakRSSMB() float64 { return 0 }

// quiesce collects garbage before a timed run.
func quiesce() { runtime.GC() }

func bytesRead() uint64 { return 0 }
