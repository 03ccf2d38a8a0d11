//go:build !linux

package ipfsstore

import "os"

// datasync makes f's data durable.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback is a Linux-only hint; elsewhere the final sync does all
// the writing.
func startWriteback(f *os.File, off, n int64) {}

// lockPack would lock a writer's pack; elsewhere than on Linux packs are
// not locked.
func lockPack(f *os.File) error { return nil }

// probeLock reports whether no one holds the lock of f. Without locks it
// cannot tell, so it says someone does, and dead writers' packs are never
// cut back.
func probeLock(f *os.File) (bool, error) { return false, nil }

// mapFile reads the first n bytes of f: elsewhere than on Linux tables
// are read, not mapped.
func mapFile(f *os.File, n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := f.ReadAt(b, 0)
	return b, err
}

// unmapFile undoes mapFile.
func unmapFile(b []byte) error { return nil }

// flockNB would lock the store; elsewhere than on Linux it is not locked,
// and a Collect must not run beside another process.
func flockNB(f *os.File, exclusive bool) (bool, error) { return true, nil }

// releaseMapped does nothing where tables are read, not mapped.
func releaseMapped([]byte) {}
