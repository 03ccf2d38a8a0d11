package ipfsstore

import (
	"context"
	"io"

	"github.com/archivecache/archivecache/ipfsstore/unixfs"
	"github.com/ipfs/go-cid"
)

// UnixFS import and reading for the stores that hold blocks themselves
// (embedded and memory), with the unixfs package. The kubo store lets the
// daemon do both.

// blockStore is what UnixFS import and reading need from a store.
type blockStore interface {
	// Get returns block c, checked as Store.Get checks it.
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
	// putBuilt stores a block that the importer built and hashed in this
	// process a moment ago. The store may skip checking the hash again. It
	// must not keep data: the importer reuses the buffer.
	putBuilt(ctx context.Context, c cid.Cid, data []byte) error
}

// addFile imports r into s as a UnixFS file and returns the root CID and
// the number of bytes read. im keeps chunk buffers between imports.
func addFile(ctx context.Context, s blockStore, r io.Reader, im *unixfs.Importer) (cid.Cid, uint64, error) {
	return im.Import(ctx, r, s.putBuilt)
}

// openFile opens the UnixFS file rooted at c in s.
func openFile(ctx context.Context, s blockStore, c cid.Cid) (File, error) {
	f, err := unixfs.Open(ctx, s.Get, c)
	if err != nil {
		return nil, err
	}
	return f, nil
}

var _ File = (*unixfs.File)(nil)
