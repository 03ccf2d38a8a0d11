//go:build !linux

package cli

import (
	"os"
	"time"
)

// setTimes sets the access and modification times of the file at path.
func setTimes(_ *os.File, path string, mt time.Time) error { return os.Chtimes(path, mt, mt) }

// needsChmod reports whether a created file needs a chmod to end with
// mode: always, where the umask cannot be read cheaply.
func needsChmod(os.FileMode) bool { return true }
