package cli

import (
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// setTimes sets the access and modification times of the open file f
// (at path) to mt, through its descriptor, without looking the path up
// again; on a kernel without utimensat on a descriptor, by path.
func setTimes(f *os.File, path string, mt time.Time) error {
	ts := unix.NsecToTimespec(mt.UnixNano())
	if err := unix.UtimesNanoAt(int(f.Fd()), "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH); err == nil {
		return nil
	}
	return os.Chtimes(path, mt, mt)
}

var umask = sync.OnceValue(func() os.FileMode {
	// Reading the umask means setting it; no file is created meanwhile,
	// since ac-get calls this before it writes its first file.
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
})

// needsChmod reports whether a file created with mode (and the owner's
// write bit) needs a chmod to end with mode: when the umask takes bits
// of it away, or the owner's write bit must go.
func needsChmod(mode os.FileMode) bool {
	return mode&umask() != 0 || mode&0o200 == 0
}
