package storetest

import (
	"context"
	"sync/atomic"

	"github.com/archivecache/archivecache/ipfsstore"
	"github.com/ipfs/go-cid"
)

// Counting is a Store that counts the blocks read through its Get, for the
// tests and benchmarks that assert or report how many blocks a piece of
// work reads.
type Counting struct {
	ipfsstore.Store
	Gets atomic.Int64
}

// Get counts the read and passes it on.
func (s *Counting) Get(ctx context.Context, c cid.Cid) ([]byte, error) {
	s.Gets.Add(1)
	return s.Store.Get(ctx, c)
}

// BlockSize passes on to the store's own (ipfsstore.BlockSize), which
// reads the block, and counts it, only where the store has none.
func (s *Counting) BlockSize(ctx context.Context, c cid.Cid) (int, error) {
	if z, ok := s.Store.(ipfsstore.Sizer); ok {
		return z.BlockSize(ctx, c)
	}
	b, err := s.Get(ctx, c)
	return len(b), err
}
