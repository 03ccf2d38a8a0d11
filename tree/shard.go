package tree

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/archivecache/archivecache/acerr"
	"github.com/archivecache/archivecache/schema"
	"github.com/ipfs/go-cid"
)

// maxShardDepth is the depth at which a shard node is a leaf whatever its
// size (schema.Decode refuses deeper ones). Names whose hashes agree on 31
// bytes do not occur, so in practice every leaf obeys the leaf limit.
const maxShardDepth = 31

func hashName(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// item is an entry with what sharding needs to know about it.
type item struct {
	e    schema.Entry
	h    [32]byte
	size uint64
}

func newItem(e schema.Entry) item {
	return item{e: e, h: hashName(e.Name), size: uint64(schema.EntrySize(&e))}
}

// itemsByHash returns the entries as items sorted by name hash, the order
// in which every shard subtree is a contiguous run, and their summed size.
// Large inputs are hashed and measured on every CPU.
func itemsByHash(entries []schema.Entry) ([]item, uint64) {
	n := len(entries)
	items := make([]item, n)
	workers := min(runtime.GOMAXPROCS(0), max(1, n/parallelMin))
	sums := make([]uint64, workers)
	spread(workers, func(w int) {
		for i := w * n / workers; i < (w+1)*n/workers; i++ {
			items[i] = newItem(entries[i])
			sums[w] += items[i].size
		}
	})
	var total uint64
	for _, s := range sums {
		total += s
	}
	slices.SortFunc(items, func(a, b item) int { return bytes.Compare(a.h[:], b.h[:]) })
	return items, total
}

// parallelMin is the least work, in entries, worth spreading over CPUs.
const parallelMin = 4096

// spread runs fn(0), ..., fn(workers-1) concurrently and waits for them.
func spread(workers int, fn func(w int)) {
	if workers <= 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { fn(w) })
	}
	wg.Wait()
}

// shardNode is a shard node as read, with the summed size of the entries
// below it.
type shardNode struct {
	s     *schema.Shard
	total uint64
}

func (n *shardNode) leaf() bool { return len(n.s.Children) == 0 }

// readShard reads the shard node at c and checks that it may sit where it
// was found: at depth, under prefix (the hash bytes of the path to it,
// len(prefix) == depth), holding want bytes of entries when the parent said
// so (checkWant).
func (t *Tree) readShard(ctx context.Context, c cid.Cid, depth int, prefix []byte, want uint64, checkWant bool) (*shardNode, error) {
	n, size, err := t.getNode(ctx, c)
	if err != nil {
		return nil, err
	}
	s, ok := n.(*schema.Shard)
	if !ok {
		return nil, fail(acerr.Integrity, "is %s, not %s", n.Kind().Noun(), schema.KindShard.Noun()).WithCID(c.String())
	}
	if s.Depth != depth {
		return nil, fail(acerr.Integrity, "shard has depth %d, want %d", s.Depth, depth).WithCID(c.String())
	}
	var total uint64
	switch {
	case len(s.Children) > 0:
		if depth >= maxShardDepth {
			return nil, fail(acerr.Integrity, "inner shard at depth %d", depth).WithCID(c.String())
		}
		for _, ch := range s.Children {
			total += ch.Bytes
			if ch.Bytes == 0 || total > schema.MaxUint { // the sum of hostile sizes cannot overflow
				return nil, fail(acerr.Integrity, "shard child %d has a bad size", ch.Index).WithCID(c.String())
			}
		}
	case len(s.Entries) > 0:
		for i := range s.Entries {
			if depth > 0 {
				h := hashName(s.Entries[i].Name)
				if !bytes.Equal(h[:depth], prefix) {
					return nil, fail(acerr.Integrity, "entry %q does not belong under this shard", s.Entries[i].Name).WithCID(c.String())
				}
			}
		}
		total = entriesBytes(size, len(schema.Encode(&schema.Shard{Depth: depth})), len(s.Entries))
	}
	if checkWant && total != want {
		return nil, fail(acerr.Integrity, "shard holds %d bytes of entries, its parent says %d", total, want).WithCID(c.String())
	}
	return &shardNode{s: s, total: total}, nil
}

func findChild(children []schema.ShardChild, b byte) (int, bool) {
	return slices.BinarySearchFunc(children, int(b), func(c schema.ShardChild, idx int) int {
		return cmp.Compare(c.Index, idx)
	})
}

func findEntry(entries []schema.Entry, name string) (int, bool) {
	return slices.BinarySearchFunc(entries, name, func(e schema.Entry, n string) int {
		return strings.Compare(e.Name, n)
	})
}

// setEntry returns a copy of the sorted entries with e in place of the
// entry of the same name, or inserted in order.
func setEntry(entries []schema.Entry, e schema.Entry) []schema.Entry {
	i, found := findEntry(entries, e.Name)
	out := make([]schema.Entry, 0, len(entries)+1)
	out = append(out, entries[:i]...)
	out = append(out, e)
	if found {
		i++
	}
	return append(out, entries[i:]...)
}

// locate reads the shard trie rooted at root along the path of hash h: the
// result starts at the root (depth 0) and ends at the leaf that holds or
// would hold the name, or at the inner node that lacks the child for it.
func (t *Tree) locate(ctx context.Context, root cid.Cid, h *[32]byte) ([]*shardNode, error) {
	n, err := t.readShard(ctx, root, 0, nil, 0, false)
	if err != nil {
		return nil, err
	}
	path := []*shardNode{n}
	for d := 0; !n.leaf(); d++ {
		i, ok := findChild(n.s.Children, h[d])
		if !ok {
			break
		}
		ch := n.s.Children[i]
		if n, err = t.readShard(ctx, ch.Link, d+1, h[:d+1], ch.Bytes, true); err != nil {
			return nil, err
		}
		path = append(path, n)
	}
	return path, nil
}

// gather appends every entry below n, which sits at depth under prefix
// (prefix[:depth] is its hash path), to out, in hash order.
func (t *Tree) gather(ctx context.Context, n *shardNode, depth int, prefix *[32]byte, out []schema.Entry) ([]schema.Entry, error) {
	if n.leaf() {
		return append(out, n.s.Entries...), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, ch := range n.s.Children {
		prefix[depth] = byte(ch.Index)
		child, err := t.readShard(ctx, ch.Link, depth+1, prefix[:depth+1], ch.Bytes, true)
		if err != nil {
			return nil, err
		}
		if out, err = t.gather(ctx, child, depth+1, prefix, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readShardEntries returns every entry of the shard trie at root, sorted
// by name.
func (t *Tree) readShardEntries(ctx context.Context, root cid.Cid) ([]schema.Entry, error) {
	n, err := t.readShard(ctx, root, 0, nil, 0, false)
	if err != nil {
		return nil, err
	}
	var prefix [32]byte
	out, err := t.gather(ctx, n, 0, &prefix, nil)
	if err != nil {
		return nil, err
	}
	schema.SortEntries(out)
	return out, nil
}

// buildShard writes the canonical shard subtree of items (sorted by hash,
// summing total bytes) at depth, and returns its CID.
//
// The shape is a function of the set of entries alone: a node is a leaf
// exactly when its entries fit the leaf limit (or it is at the deepest
// level), and otherwise has one child per hash byte value present.
func (t *Tree) buildShard(ctx context.Context, items []item, depth int, total uint64) (cid.Cid, error) {
	if total <= uint64(t.cfg.LeafLimit) || depth == maxShardDepth {
		entries := make([]schema.Entry, len(items))
		for i := range items {
			entries[i] = items[i].e
		}
		schema.SortEntries(entries)
		return t.putNode(ctx, &schema.Shard{Depth: depth, Entries: entries})
	}
	if err := ctx.Err(); err != nil {
		return cid.Undef, err
	}
	type run struct {
		items []item
		sum   uint64
	}
	var runs []run
	for i := 0; i < len(items); {
		b := items[i].h[depth]
		j, sum := i, uint64(0)
		for ; j < len(items) && items[j].h[depth] == b; j++ {
			sum += items[j].size
		}
		runs = append(runs, run{items[i:j], sum})
		i = j
	}
	children := make([]schema.ShardChild, len(runs))
	errs := make([]error, len(runs))
	var failed atomic.Bool
	build := func(i int) {
		if failed.Load() {
			return
		}
		r := runs[i]
		c, err := t.buildShard(ctx, r.items, depth+1, r.sum)
		children[i] = schema.ShardChild{Index: int(r.items[0].h[depth]), Link: c, Bytes: r.sum}
		if errs[i] = err; err != nil {
			failed.Store(true)
		}
	}
	if depth == 0 && len(items) >= parallelMin {
		// The subtrees of the root are independent: build them on every
		// CPU, each worker taking the next run.
		var next atomic.Int64
		spread(runtime.GOMAXPROCS(0), func(int) {
			for i := int(next.Add(1)) - 1; i < len(runs); i = int(next.Add(1)) - 1 {
				build(i)
			}
		})
	} else {
		for i := range runs {
			build(i)
		}
	}
	for _, err := range errs {
		if err != nil {
			return cid.Undef, err
		}
	}
	return t.putNode(ctx, &schema.Shard{Depth: depth, Children: children})
}

// updateShard sets entry e (of size newSize, replacing an entry of
// oldSize bytes, 0 if none) in the shard trie whose path towards e's name
// locate returned, rewriting only the nodes on that path, and returns the
// new root. Given a canonical trie it returns the canonical trie of the
// changed set:
//
//   - the topmost node on the path whose new total fits the leaf limit
//     becomes a leaf holding everything below it (a collapse; nothing
//     beneath it is read unless it was an inner node);
//   - otherwise the bottom leaf takes e and splits if it no longer fits,
//     or the bottom inner node gains a child for e;
//   - every node above gets the new child link and size.
func (t *Tree) updateShard(ctx context.Context, path []*shardNode, h *[32]byte, e schema.Entry, oldSize, newSize uint64) (cid.Cid, error) {
	limit := uint64(t.cfg.LeafLimit)
	newTotal := func(j int) uint64 { return path[j].total - oldSize + newSize }
	k := len(path) - 1

	// Find the topmost node on the path that the change lets fit in a leaf.
	top := -1
	for j := 0; j <= k; j++ {
		if newTotal(j) <= limit {
			top = j
			break
		}
	}
	var (
		c     cid.Cid
		err   error
		start int // the deepest node above the rewritten part: the first of the inner nodes to relink
	)
	switch {
	case top >= 0:
		var prefix [32]byte
		copy(prefix[:], h[:top])
		var entries []schema.Entry
		if entries, err = t.gather(ctx, path[top], top, &prefix, nil); err != nil {
			return cid.Undef, err
		}
		schema.SortEntries(entries)
		if c, err = t.putNode(ctx, &schema.Shard{Depth: top, Entries: setEntry(entries, e)}); err != nil {
			return cid.Undef, err
		}
		start = top - 1
	case path[k].leaf():
		items, total := itemsByHash(setEntry(path[k].s.Entries, e))
		if c, err = t.buildShard(ctx, items, k, total); err != nil {
			return cid.Undef, err
		}
		start = k - 1
	default:
		// An inner node without a child for e's hash byte: add one.
		var child cid.Cid
		if child, err = t.buildShard(ctx, []item{{e: e, h: *h, size: newSize}}, k+1, newSize); err != nil {
			return cid.Undef, err
		}
		children := path[k].s.Children
		i, _ := findChild(children, h[k])
		nc := make([]schema.ShardChild, 0, len(children)+1)
		nc = append(nc, children[:i]...)
		nc = append(nc, schema.ShardChild{Index: int(h[k]), Link: child, Bytes: newSize})
		nc = append(nc, children[i:]...)
		if c, err = t.putNode(ctx, &schema.Shard{Depth: k, Children: nc}); err != nil {
			return cid.Undef, err
		}
		start = k - 1
	}
	for j := start; j >= 0; j-- {
		children := slices.Clone(path[j].s.Children)
		i, ok := findChild(children, h[j])
		if !ok {
			return cid.Undef, fail(acerr.Integrity, "shard path lost at depth %d", j) // cannot happen: locate followed it
		}
		children[i].Link, children[i].Bytes = c, newTotal(j+1)
		if c, err = t.putNode(ctx, &schema.Shard{Depth: j, Children: children}); err != nil {
			return cid.Undef, err
		}
	}
	return c, nil
}
