package ipfsstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync makes f's data durable: fdatasync(2), which skips the metadata
// fsync would also write (such as mtime) but keeps the file size.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = unix.Fdatasync(int(fd))
			if serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// startWriteback asks the kernel to start writing the n bytes of f at off
// to disk without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE). Large imports call it as they go, so the disk
// works while the importer hashes, and the final fdatasync finds little
// left to do. It is only a hint: errors are ignored, and fdatasync still
// makes the data durable.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// lockPack takes the exclusive lock a writer holds on its pack for as long
// as it has the file open.
func lockPack(f *os.File) error {
	free, err := probeLock(f)
	if err == nil && !free {
		err = unix.EWOULDBLOCK
	}
	if err != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}

// probeLock takes the exclusive lock of f if no one holds it, and reports
// whether it did. The lock lasts until f is closed.
func probeLock(f *os.File) (bool, error) { return flockNB(f, true) }

// mapFile maps the first n bytes of f, read-only.
func mapFile(f *os.File, n int) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: err}
	}
	return b, nil
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) error { return unix.Munmap(b) }

// flockNB takes a shared or (exclusive) an exclusive lock of f, converting
// one f holds already, without waiting; it reports false if another open
// file holds a lock that conflicts.
func flockNB(f *os.File, exclusive bool) (bool, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = unix.Flock(int(fd), how|unix.LOCK_NB)
			if lerr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	if lerr == unix.EWOULDBLOCK {
		return false, nil
	}
	return lerr == nil, lerr
}

// releaseMapped drops the pages of b, part of a read-only mapping of a
// file, from the process: they stay in the page cache, and a later read
// maps them again.
func releaseMapped(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) }
