package dirbench

import (
	"context"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Layout is one way of storing a directory's entries as a tree of blocks.
type Layout interface {
	Name() string
	// Build writes the tree of entries (in any order) and returns its root.
	Build(ctx context.Context, b Blocks, entries []schema.Entry) (cid.Cid, error)
	Lookup(ctx context.Context, b Blocks, root cid.Cid, name string) (schema.Entry, bool, error)
	// Diff counts the names whose entries differ between two trees.
	Diff(ctx context.Context, b Blocks, x, y cid.Cid) (int, error)
	// Walk calls fn for every node, parents first, with its encoded size
	// and depth (the root's is 0); fn returning false skips the children.
	Walk(ctx context.Context, b Blocks, root cid.Cid, fn func(c cid.Cid, size, depth int) bool) error
}

var (
	_ Layout = Trie{}
	_ Layout = Prolly{}
)
