//go:build !linux

package ipfsstore

import "os"

// datasync makes f's data durable.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback is a Linux-only hint; elsewhere the final sync does all
// the writing.
func startWriteback(f *os.File, off, n int64) {}
