//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package head

import (
	"errors"
	"os"
	"runtime"
)

func lockFile(*os.File) error {
	return errors.New("file locking is not supported on " + runtime.GOOS)
}
