package ipfsstore

import (
	"context"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// HeldFileSize returns the size the UnixFS file rooted at c says it has,
// if s holds its root block; held is false, with no error, if it does
// not. Only the root block is read (for a raw block, the one-block file,
// not even that where s is a Sizer): a dag-pb root states the size of
// what is below it, and the reader checks every child against that claim
// as it reads. A block that is not a file's root gives the error Open
// would (acerr.IsDir for a directory, acerr.Invalid for anything else).
func HeldFileSize(ctx context.Context, s Store, c cid.Cid) (size uint64, held bool, err error) {
	if c.Type() == cid.Raw {
		n, err := BlockSize(ctx, s, c)
		if acerr.Is(acerr.NotExist, err) {
			return 0, false, nil
		}
		return uint64(n), err == nil, err
	}
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

// BlockSize returns the length of block c in s: without reading it where
// s is a Sizer, else by reading it. A block s does not hold gives
// acerr.NotExist.
func BlockSize(ctx context.Context, s Store, c cid.Cid) (int, error) {
	if z, ok := s.(Sizer); ok {
		return z.BlockSize(ctx, c)
	}
	b, err := s.Get(ctx, c)
	return len(b), err
}
