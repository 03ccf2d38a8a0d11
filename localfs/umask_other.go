//go:build !unix

package localfs

import "os"

// processUmask returns 0: the system has no umask.
func processUmask() os.FileMode { return 0 }
