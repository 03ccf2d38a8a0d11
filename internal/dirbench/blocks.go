package dirbench

import (
	"context"
	"fmt"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Blocks is where a layout keeps its nodes; every ipfsstore.Store is one.
type Blocks interface {
	Get(ctx context.Context, c cid.Cid) ([]byte, error)
	Put(ctx context.Context, c cid.Cid, data []byte) error
}

// Counted counts the reads made through it.
type Counted struct {
	Blocks
	Reads, ReadBytes int
}

func (c *Counted) Get(ctx context.Context, k cid.Cid) ([]byte, error) {
	data, err := c.Blocks.Get(ctx, k)
	c.Reads++
	c.ReadBytes += len(data)
	return data, err
}

func putNode(ctx context.Context, b Blocks, data []byte) (cid.Cid, error) {
	c := schema.Sum(data)
	return c, b.Put(ctx, c, data)
}

func kib(n int) string {
	if n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}
