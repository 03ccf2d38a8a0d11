package dirbench

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// Trie is the layout of version 1 (tree/shard.go) with its two knobs
// free: a hash trie over sha2-256(name) whose nodes are shard_v1 blocks of
// today's encoding, Bits bits of the hash per level (8: 256 children, as
// today; 4: 16 children) and leaves of at most LeafLimit entry bytes.
type Trie struct {
	Bits      int // 1, 2, 4 or 8
	LeafLimit int
}

func (t Trie) Name() string {
	return fmt.Sprintf("hash trie, %d-way, %s leaves", 1<<t.Bits, kib(t.LeafLimit))
}

func (t Trie) maxDepth() int { return 256/t.Bits - 1 }

// digit returns the d-th group of Bits bits of h.
func (t Trie) digit(h *[32]byte, d int) int {
	bit := d * t.Bits
	return int(h[bit/8]>>(8-t.Bits-bit%8)) & (1<<t.Bits - 1)
}

type hashed struct {
	e    schema.Entry
	h    [32]byte
	size uint64
}

func (t Trie) Build(ctx context.Context, b Blocks, entries []schema.Entry) (cid.Cid, error) {
	items := make([]hashed, len(entries))
	var total uint64
	for i, e := range entries {
		items[i] = hashed{e, sha256.Sum256([]byte(e.Name)), uint64(schema.EntrySize(&e))}
		total += items[i].size
	}
	slices.SortFunc(items, func(x, y hashed) int { return bytes.Compare(x.h[:], y.h[:]) })
	return t.build(ctx, b, items, 0, total)
}

// build writes the canonical subtree of items (sorted by hash) at depth:
// a leaf when they fit, otherwise one child per digit value present.
func (t Trie) build(ctx context.Context, b Blocks, items []hashed, depth int, total uint64) (cid.Cid, error) {
	if total <= uint64(t.LeafLimit) || depth == t.maxDepth() {
		entries := make([]schema.Entry, len(items))
		for i := range items {
			entries[i] = items[i].e
		}
		schema.SortEntries(entries)
		return putNode(ctx, b, schema.Encode(&schema.Shard{Depth: depth, Entries: entries}))
	}
	var children []schema.ShardChild
	for i := 0; i < len(items); {
		d := t.digit(&items[i].h, depth)
		j, sum := i, uint64(0)
		for ; j < len(items) && t.digit(&items[j].h, depth) == d; j++ {
			sum += items[j].size
		}
		c, err := t.build(ctx, b, items[i:j], depth+1, sum)
		if err != nil {
			return cid.Undef, err
		}
		children = append(children, schema.ShardChild{Index: d, Link: c, Bytes: sum})
		i = j
	}
	return putNode(ctx, b, schema.Encode(&schema.Shard{Depth: depth, Children: children}))
}

func (t Trie) read(ctx context.Context, b Blocks, c cid.Cid) (*schema.Shard, int, error) {
	data, err := b.Get(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	s, err := schema.DecodeAs[*schema.Shard](data)
	return s, len(data), err
}

func (t Trie) Lookup(ctx context.Context, b Blocks, root cid.Cid, name string) (schema.Entry, bool, error) {
	h := sha256.Sum256([]byte(name))
	for c := root; ; {
		s, _, err := t.read(ctx, b, c)
		if err != nil {
			return schema.Entry{}, false, err
		}
		if len(s.Children) == 0 {
			i, ok := slices.BinarySearchFunc(s.Entries, name, func(e schema.Entry, n string) int { return strings.Compare(e.Name, n) })
			if !ok {
				return schema.Entry{}, false, nil
			}
			return s.Entries[i], true, nil
		}
		i, ok := slices.BinarySearchFunc(s.Children, t.digit(&h, s.Depth), func(ch schema.ShardChild, d int) int { return cmp.Compare(ch.Index, d) })
		if !ok {
			return schema.Entry{}, false, nil
		}
		c = s.Children[i].Link
	}
}

// Diff counts the names whose entries differ between the tries at x and
// y, reading both in step and skipping children with equal links.
func (t Trie) Diff(ctx context.Context, b Blocks, x, y cid.Cid) (int, error) {
	if x.Equals(y) {
		return 0, nil
	}
	var sx, sy *schema.Shard
	var err error
	if x.Defined() {
		if sx, _, err = t.read(ctx, b, x); err != nil {
			return 0, err
		}
	}
	if y.Defined() {
		if sy, _, err = t.read(ctx, b, y); err != nil {
			return 0, err
		}
	}
	if sx != nil && sy != nil && len(sx.Children) > 0 && len(sy.Children) > 0 {
		links := map[int][2]cid.Cid{}
		for _, ch := range sx.Children {
			links[ch.Index] = [2]cid.Cid{ch.Link, cid.Undef}
		}
		for _, ch := range sy.Children {
			links[ch.Index] = [2]cid.Cid{links[ch.Index][0], ch.Link}
		}
		n := 0
		for _, l := range links {
			d, err := t.Diff(ctx, b, l[0], l[1])
			if err != nil {
				return 0, err
			}
			n += d
		}
		return n, nil
	}
	// A leaf against anything: compare every entry below both.
	ex, err := t.gather(ctx, b, sx)
	if err != nil {
		return 0, err
	}
	ey, err := t.gather(ctx, b, sy)
	if err != nil {
		return 0, err
	}
	return diffEntries(ex, ey), nil
}

func (t Trie) gather(ctx context.Context, b Blocks, s *schema.Shard) ([]schema.Entry, error) {
	if s == nil {
		return nil, nil
	}
	out := slices.Clone(s.Entries)
	for _, ch := range s.Children {
		cs, _, err := t.read(ctx, b, ch.Link)
		if err != nil {
			return nil, err
		}
		es, err := t.gather(ctx, b, cs)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	schema.SortEntries(out)
	return out, nil
}

func (t Trie) Walk(ctx context.Context, b Blocks, root cid.Cid, fn func(c cid.Cid, size, depth int) bool) error {
	s, size, err := t.read(ctx, b, root)
	if err != nil {
		return err
	}
	if !fn(root, size, s.Depth) {
		return nil
	}
	for _, ch := range s.Children {
		if err := t.Walk(ctx, b, ch.Link, fn); err != nil {
			return err
		}
	}
	return nil
}

// diffEntries counts the names whose entries differ between two lists
// sorted by name.
func diffEntries(x, y []schema.Entry) int {
	n := 0
	for len(x) > 0 || len(y) > 0 {
		switch {
		case len(y) == 0 || (len(x) > 0 && x[0].Name < y[0].Name):
			n, x = n+1, x[1:]
		case len(x) == 0 || y[0].Name < x[0].Name:
			n, y = n+1, y[1:]
		default:
			if !schema.SameEntry(&x[0], &y[0]) {
				n++
			}
			x, y = x[1:], y[1:]
		}
	}
	return n
}
