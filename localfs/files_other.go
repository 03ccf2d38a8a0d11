//go:build !linux

package localfs

import (
	"io"
	"os"
	"time"
)

// createFile creates path, which must not exist, with the bytes of data or,
// if data is nil, those read from src, and gives it mode and
// the modification time mt. A file it created but could not finish is
// removed again. canLink is for Linux, where the file is written without
// a name and linked once whole.
func createFile(path string, mode os.FileMode, mt time.Time, data []byte, src io.Reader, canLink bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o200)
	if err != nil {
		return err
	}
	if data != nil {
		_, err = f.Write(data)
	} else {
		_, err = io.Copy(f, src)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(path, mt, mt)
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// namelessFiles reports whether createFile can write a file before it
// has a name: on Linux only.
func namelessFiles() bool { return false }

// openFile opens the local file at path for reading.
func openFile(path string) (io.ReadCloser, error) { return os.Open(path) }
