package tree

import (
	"context"
	"fmt"
	"sync"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// fail builds an error that carries a kind and a cause but no op or path;
// the exported method that returns it fills those in (see wrap).
func fail(kind acerr.Kind, format string, args ...any) *acerr.Error {
	return &acerr.Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// missing is the error of a path that shows nothing at here, one of the
// names on the way to path or path itself.
func missing(here, path string) *acerr.Error {
	if here == path {
		return &acerr.Error{Kind: acerr.NotExist}
	}
	return fail(acerr.NotExist, "no %s", here)
}

// wrap names op and path in err. An error made by fail gets them filled
// in, so it prints as one flat line; any other error is nested.
func wrap(op, path string, err error) error {
	if e, ok := err.(*acerr.Error); ok && e.Op == "" && e.Path == "" {
		c := *e
		c.Op, c.Path = op, path
		return &c
	}
	return acerr.E(op, path, acerr.Other, err)
}

// getNode reads block c and decodes it strictly. Whatever the store holds
// is treated as hostile: the bytes must hash to c and decode canonically.
// It returns the node and its encoded length.
func (t *Tree) getNode(ctx context.Context, c cid.Cid) (schema.Object, int, error) {
	if c.Prefix().Codec != cid.DagCBOR {
		return nil, 0, fail(acerr.Integrity, "link is not a dag-cbor node").WithCID(c.String())
	}
	if t.cache != nil {
		if n, ok := t.cache.get(c); ok {
			return n.n, n.size, nil
		}
	}
	data, err := t.store.Get(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	if !schema.Sum(data).Equals(c) {
		return nil, 0, fail(acerr.Integrity, "block does not match its CID").WithCID(c.String())
	}
	n, err := schema.Decode(data)
	if err != nil {
		return nil, 0, fail(acerr.Integrity, "malformed block: %s", acerr.Brief(err)).WithCID(c.String())
	}
	if t.cache != nil {
		t.cache.put(c, cachedNode{n, len(data)})
	}
	return n, len(data), nil
}

// nodeCache keeps decoded nodes, the oldest dropped first. Nodes are
// immutable and shared: nothing may change a node it read.
type nodeCache struct {
	mu    sync.Mutex
	max   int
	nodes map[cid.Cid]cachedNode
	order []cid.Cid
}

type cachedNode struct {
	n    schema.Object
	size int
}

func (nc *nodeCache) get(c cid.Cid) (cachedNode, bool) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	n, ok := nc.nodes[c]
	return n, ok
}

func (nc *nodeCache) put(c cid.Cid, n cachedNode) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if _, ok := nc.nodes[c]; ok {
		return
	}
	if len(nc.order) >= nc.max {
		delete(nc.nodes, nc.order[0])
		nc.order = nc.order[1:]
	}
	nc.nodes[c] = n
	nc.order = append(nc.order, c)
}

// putNode encodes n and stores it.
func (t *Tree) putNode(ctx context.Context, n schema.Object) (cid.Cid, error) {
	c, data := schema.Block(n)
	if len(data) > schema.MaxBlockSize {
		return cid.Undef, fail(acerr.TooLarge, "%s block of %d bytes exceeds %d", n.Kind(), len(data), schema.MaxBlockSize)
	}
	if err := t.store.Put(ctx, c, data); err != nil {
		return cid.Undef, err
	}
	return c, nil
}

// readDirectory reads the directory at c. The undefined CID is the empty
// directory.
func (t *Tree) readDirectory(ctx context.Context, c cid.Cid) (*schema.Directory, error) {
	if !c.Defined() {
		return &schema.Directory{}, nil
	}
	n, _, err := t.getNode(ctx, c)
	if err != nil {
		return nil, err
	}
	d, ok := n.(*schema.Directory)
	if !ok {
		return nil, fail(acerr.NotDir, "is %s", n.Kind().Noun()).WithCID(c.String())
	}
	return d, nil
}
