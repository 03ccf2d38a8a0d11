// Package localfs owns the local disk's side of a home: importing a
// local file or directory into a store (Import, which returns what it
// found as a tree.Source for tree.PutTree), and exporting a file or
// directory of a tree to the disk (Export), byte-identical, with
// modification times and the modes cp without -p would give.
//
// Both go straight to the system calls on Linux where an os.File would
// cost several more per file, and both work on many files at once:
// Import hashes files on several goroutines while the scan goes on;
// Export fetches (and so checks) files ahead of writers that each take
// whole directories, since ext4 creates the files of one directory one
// at a time. Neither prints: what they skip and how far they are they
// report through ImportConfig.Skipped and Progress, for a front end to
// show.
package localfs
