//go:build unix

package localfs

import (
	"os"
	"syscall"
)

// processUmask returns the process's umask. Linux (4.7 and later) shows
// it in /proc/self/status, which reading changes nothing. Elsewhere it is
// read by setting it and setting it back, which would narrow the mode of
// a file another goroutine created meanwhile: call it before starting
// any that create files.
func processUmask() os.FileMode {
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		if m, ok := parseUmask(status); ok {
			return m
		}
	}
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m) & os.ModePerm
}
