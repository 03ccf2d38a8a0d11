// Package atomicfile owns the one way ArchiveCache replaces a small file
// so that a crash leaves the old content or the new one, never a mix:
// write a temporary file beside it, fsync it, rename it over the file,
// fsync the directory. It also owns making a directory's entries (new
// names, renames) durable: SyncDir. It depends on nothing in the
// project; callers name what failed in their own errors.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces the file path with data and the permissions perm. The
// temporary file has a name of its own (".tmp-BASE-*" beside path), so
// that writers who race each write whole files, and the last rename
// wins; a process killed midway leaves at most such a file.
func Write(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := fill(f, perm, writeData(data)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Create makes the new file path with data and the permissions perm, as
// Write does, but fails with an error satisfying errors.Is(err,
// fs.ErrExist) if path exists: the file appears whole (by a hard link of
// the fsynced temporary file) or not at all, and is never replaced.
func Create(path string, data []byte, perm fs.FileMode) error {
	return CreateWith(path, perm, writeData(data))
}

// CreateWith is Create for content written by write, which writes it to
// the temporary file from its start: for files too large to hold in
// memory. If write fails, nothing is created.
func CreateWith(path string, perm fs.FileMode, write func(f *os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := fill(f, perm, write); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// WriteTemp writes data to the file tmp, replacing whatever file of that
// name a killed writer left, and fsyncs it; the caller renames it into
// place, then calls SyncDir. For a writer that holds a lock, so that
// tmp has one name known to everyone (as HEAD.tmp has). On failure
// tmp is removed.
func WriteTemp(tmp string, data []byte, perm fs.FileMode) error {
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := fill(f, perm, writeData(data)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeData returns the write function of content data.
func writeData(data []byte) func(*os.File) error {
	return func(f *os.File) error {
		_, err := f.Write(data)
		return err
	}
}

// fill writes the new file f with write, sets its permissions (a umask
// may have narrowed them at creation), fsyncs and closes it.
func fill(f *os.File, perm fs.FileMode, write func(*os.File) error) error {
	err := write(f)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// SyncDir fsyncs the directory dir, so that the names created, renamed
// or removed in it survive a power loss.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
