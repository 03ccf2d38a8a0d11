package ipfsstore

import (
	"context"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// HeldFileSize returns the size the UnixFS file rooted at c says it has,
// if s holds its root block; held is false, with no error, if it does
// not. Only the root block is read: a dag-pb root states the size of what
// is below it, and the reader checks every child against that claim as
// it reads. A block that is not a file's root gives the error Open would
// (acerr.IsDir for a directory, acerr.Invalid for anything else).
func HeldFileSize(ctx context.Context, s Store, c cid.Cid) (size uint64, held bool, err error) {
	ok, err := s.Has(ctx, c)
	if err != nil || !ok {
		return 0, false, err
	}
	b, err := s.Get(ctx, c)
	if acerr.Is(acerr.NotExist, err) {
		return 0, false, nil // dropped since Has
	}
	if err != nil {
		return 0, false, err
	}
	size, err = unixfs.FileSize(c, b)
	return size, err == nil, err
}
