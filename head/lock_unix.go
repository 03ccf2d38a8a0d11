//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package head

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f, waiting for it. The kernel drops
// the lock when f is closed or the process dies, so a killed process never
// leaves the home locked.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
