package localfs

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// createFile creates path, which must not exist, with the bytes of data or,
// if data is nil, those read from src, and gives it mode (which the umask
// must not narrow: the caller has already taken its bits away) and
// the modification time mt. It goes straight to the system calls: an
// os.File costs an exporter of many small files four fcntl calls and a
// failed epoll registration per file on top of the open, write, utimensat
// and close it needs.
//
// The file is written whole before it has a name: made with O_TMPFILE
// in path's directory, it is linked at path only once its bytes, mode
// and time are in place, and linkat fails if path exists meanwhile. So a
// process killed while it writes (kill -9 in the middle of a large file)
// leaves no torn file and no temporary one: the kernel frees the nameless
// inode, and an export run again writes the file anew. Where the file
// system has no O_TMPFILE, or the caller found no /proc for the link
// (canLink false: see namelessFiles), path is created at once, and
// removed again if it could not be finished.
func createFile(path string, mode os.FileMode, mt time.Time, data []byte, src io.Reader, canLink bool) error {
	if data == nil {
		// A file that is there already is not fetched and written in
		// vain before the link finds it.
		if _, err := os.Lstat(path); err == nil {
			return unix.EEXIST
		}
	}
	var fd int
	var err error = unix.EOPNOTSUPP
	if canLink {
		err = retry(func() (err error) {
			fd, err = unix.Open(filepath.Dir(path), unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, uint32(mode|0o200))
			return err
		})
	}
	nameless := err == nil
	if err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL {
		err = retry(func() (err error) {
			fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(mode|0o200))
			return err
		})
	}
	if err != nil {
		return err
	}
	if data != nil {
		err = writeFull(fd, data)
	} else {
		_, err = io.Copy(fdWriter(fd), src)
	}
	if err == nil && mode&0o200 == 0 {
		// The file was created with the owner's write bit, which has to go.
		err = retry(func() error { return unix.Fchmod(fd, uint32(mode)) })
	}
	if err == nil {
		ts := unix.NsecToTimespec(mt.UnixNano())
		err = unix.UtimesNanoAt(fd, "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH)
		if err != nil && !nameless {
			// A kernel without utimensat on a descriptor: by path.
			err = os.Chtimes(path, mt, mt)
		}
	}
	if err == nil && nameless {
		err = retry(func() error {
			return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
		})
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil && !nameless {
		os.Remove(path)
	}
	return err
}

// namelessFiles reports whether createFile can link a nameless file:
// whether /proc/self/fd is there.
func namelessFiles() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
}

func writeFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// openFile opens the local file at path for reading, straight from the
// system calls for the reason createFile gives.
func openFile(path string) (io.ReadCloser, error) {
	var fd int
	err := retry(func() (err error) {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fdReader(fd), nil
}

// fdReader reads from a file descriptor, which Close closes.
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (r fdReader) Close() error { return unix.Close(int(r)) }

// fdWriter writes to a file descriptor.
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	if err := writeFull(int(w), b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// retry calls f again while it is interrupted by a signal.
func retry(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
